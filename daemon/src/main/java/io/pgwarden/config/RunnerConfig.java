package io.pgwarden.config;

import java.util.Optional;

/**
 * Where PostgreSQL client tools run. Docker: a sidecar per run from {@code image} ("{major}" = the server's major
 * version) on {@code network} ({@code host}, {@code container:<name>} or a network name). Process: local binaries.
 * @param pgHost where the tools reach PostgreSQL when that differs from {@code connection.host}, as seen from the
 *               sidecar (with {@code network: container:<name>} the server is at 127.0.0.1)
 * @param pgPort the same for the port
 * @param streamDir   docker: a directory of the daemon's where sidecars write their output through a named pipe,
 *                    bypassing the engine's attach stream (about a third of the shell pipeline's speed); empty: attach
 * @param streamMount docker: the same directory as the engine mounts it into a sidecar: a host path (the default is
 *                    streamDir, for a daemon on the host) or the name of a volume the daemon's container mounts at streamDir
 */
public record RunnerConfig(Type type, String image, String network, Pull pull, Optional<Long> memoryBytes,
                           Optional<Double> cpus, Optional<String> dockerHost, String binDir,
                           Optional<String> pgHost, Optional<Integer> pgPort, Optional<String> streamDir, Optional<String> streamMount) {
    public enum Type { DOCKER, PROCESS }

    public enum Pull { IF_ABSENT, NEVER }

    public RunnerConfig {
        streamMount = streamMount.or(() -> streamDir); // a daemon on the host: the engine mounts the same path
    }

    public static final String DEFAULT_IMAGE = "postgres:{major}";
    public static final String DEFAULT_BIN_DIR = "/usr/lib/postgresql/{major}/bin";

    public static RunnerConfig defaultProcess() {
        return new RunnerConfig(Type.PROCESS, DEFAULT_IMAGE, "host", Pull.IF_ABSENT, Optional.empty(), Optional.empty(),
                Optional.empty(), DEFAULT_BIN_DIR, Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
    }

    /** The local binaries of a PostgreSQL major version: binDir with {major} filled in. */
    public java.nio.file.Path binDirFor(int major) {
        return java.nio.file.Path.of(binDir.replace("{major}", Integer.toString(major)));
    }

    /** The libpq environment for a tool run by this runner: the connection's, with the sidecar's view of host and port. */
    public java.util.Map<String, Secret> toolEnvironment(ConnectionConfig connection) {
        var env = connection.libpqEnvironment();
        pgHost.ifPresent(h -> env.put("PGHOST", new Secret(h)));
        pgPort.ifPresent(p -> env.put("PGPORT", new Secret(Integer.toString(p))));
        return env;
    }
}
