package io.pgwarden.runner;

import io.pgwarden.config.Secret;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One run of a PostgreSQL client tool.
 * @param tool              the program, e.g. {@code pg_dump} (looked up in the runner's bin dir or image)
 * @param pgMajor           the server's major version: picks the bin dir or image with matching tools
 * @param secretEnvironment environment for the tool (PGPASSWORD, ...): never on a command line, never logged
 * @param job               what this run is for (labels and logs), e.g. {@code base-backup}
 * @param runId             unique per run (labels and logs)
 * @param container         sidecar-only placement (a scratch volume, a user, a network); {@link Container#DEFAULT} otherwise
 */
public record ToolInvocation(String tool, List<String> arguments, int pgMajor, Map<String, Secret> secretEnvironment,
                             Duration timeout, String job, String runId, Container container) {
    public ToolInvocation {
        arguments = List.copyOf(arguments);
        secretEnvironment = Map.copyOf(secretEnvironment);
    }

    public ToolInvocation(String tool, List<String> arguments, int pgMajor, Map<String, Secret> secretEnvironment,
                          Duration timeout, String job, String runId) {
        this(tool, arguments, pgMajor, secretEnvironment, timeout, job, runId, Container.DEFAULT);
    }

    /**
     * Where a sidecar runs, when it is not the runner's default: test restores mount a scratch volume, run as the
     * image's postgres user and need no network.
     * @param volume    a named volume mounted at {@code mountPath}
     * @param user      the user inside the container (empty: the image's)
     * @param network   instead of runner.network
     * @param hostDir   a directory of this host the tool works in, at the same path in a sidecar (a bind mount; the
     *                  engine must run on this host); a local process needs nothing for it
     * @param output    a directory the tool writes files into while the daemon reads them (see {@link OutputDir})
     */
    public record Container(Optional<String> volume, String mountPath, Optional<String> user, Optional<String> network, Optional<Path> hostDir,
                            Optional<OutputDir> output) {
        public static final Container DEFAULT = new Container(Optional.empty(), "", Optional.empty(), Optional.empty(), Optional.empty());

        public Container(Optional<String> volume, String mountPath, Optional<String> user, Optional<String> network) {
            this(volume, mountPath, user, network, Optional.empty());
        }

        public Container(Optional<String> volume, String mountPath, Optional<String> user, Optional<String> network, Optional<Path> hostDir) {
            this(volume, mountPath, user, network, hostDir, Optional.empty());
        }

        /** The runner's default placement, plus a directory for the tool's files (from {@link ToolRunner#outputDir}). */
        public static Container writingInto(OutputDir dir) {
            return new Container(Optional.empty(), "", Optional.empty(), Optional.empty(), Optional.empty(), Optional.of(dir));
        }

        public static Container onVolume(String volume, String mountPath, String user) {
            return new Container(Optional.of(volume), mountPath, Optional.ofNullable(user), Optional.of("none"));
        }

        /** @param user "uid:gid" the files there belong to, so what the tool writes belongs to this process too */
        public static Container inHostDir(Path dir, String user) {
            return new Container(Optional.empty(), "", Optional.of(user), Optional.of("none"), Optional.of(dir));
        }

        /** Only a host directory, which a local process reaches without help. */
        public boolean hostDirOnly() {
            return volume.isEmpty() && network.equals(Optional.of("none")) && hostDir.isPresent() && output.isEmpty();
        }

        /** Only an output directory: a local process writes into it as it is. */
        public boolean outputOnly() {
            return equals(new Container(Optional.empty(), "", Optional.empty(), Optional.empty(), Optional.empty(), output)) && output.isPresent();
        }
    }

    /** The command as it may be shown in logs and errors (the environment is not part of it). */
    public String commandLine() {
        return tool + (arguments.isEmpty() ? "" : " " + String.join(" ", arguments));
    }
}
