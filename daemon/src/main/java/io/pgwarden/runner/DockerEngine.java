package io.pgwarden.runner;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.PullImageResultCallback;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.LogConfig;
import com.github.dockerjava.api.model.Mount;
import com.github.dockerjava.api.model.MountType;
import com.github.dockerjava.api.model.Ports;
import com.github.dockerjava.api.model.Volume;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import io.pgwarden.config.RunnerConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.Errors;
import io.pgwarden.error.PgwardenException;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Docker engine as pgwarden uses it: images, labelled and confined containers, scratch volumes, restored
 * servers, and the removal of what a crashed instance left. Running a tool in a sidecar is {@link DockerToolRunner}'s.
 */
public final class DockerEngine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DockerEngine.class);
    private static final Duration PULL_TIMEOUT = Duration.ofMinutes(10);
    /** On a restored server (and its volume) an operator keeps: which run of pgwarden made it. */
    public static final String LABEL_RESTORED = "io.pgwarden.restored-by";
    /** Processes per container: a restored server with max_connections 100 uses about 110. */
    static final long PIDS_LIMIT = 512;
    /** The daemon's mark in a host directory it hands to a sidecar: found there, the sidecar sees the same directory. */
    static final String HOST_DIR_MARK = ".pgwarden-host-dir";

    /** Containers this process started and has not removed yet: removed on close (their runs are being abandoned). */
    private final java.util.Set<String> live = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final DockerSettings settings;
    private final DockerClient docker;
    private final String dockerHost;
    private final com.github.dockerjava.transport.SSLConfig tls;

    public DockerEngine(DockerSettings settings) {
        this.settings = settings;
        var config = DefaultDockerClientConfig.createDefaultConfigBuilder();
        settings.dockerHost().ifPresent(config::withDockerHost);
        var built = config.build();
        this.dockerHost = built.getDockerHost().toString();
        this.tls = built.getSSLConfig();
        this.docker = DockerClientImpl.getInstance(built, new ApacheDockerHttpClient.Builder()
                .dockerHost(built.getDockerHost()).sslConfig(built.getSSLConfig())
                .maxConnections(32).connectionTimeout(Duration.ofSeconds(5)).build());
    }

    /** The client, for attaching to and waiting on a tool's container. */
    DockerClient client() {
        return docker;
    }

    DockerSettings settings() {
        return settings;
    }

    /** Attaches to a created container's stdio on a connection of its own (see {@link DockerAttach}). */
    DockerAttach attach(String id, boolean stdin) throws IOException {
        try {
            return DockerAttach.open(dockerHost, tls == null ? null : tls.getSSLContext(), id, stdin);
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("cannot set up TLS to the Docker engine at " + dockerHost + ": " + e.getMessage(), e);
        }
    }

    void track(String id) {
        live.add(id);
    }

    /** Kills a container by id or name, if it still runs. */
    void kill(String container) {
        try {
            docker.killContainerCmd(container).exec();
        } catch (RuntimeException e) {
            log.debug("container {} ended before it could be killed: {}", shortId(container), e.getMessage());
        }
    }

    String create(ToolInvocation invocation, String image, boolean withStdin) {
        // Docker would also write stdout (the whole backup) to a json log file on the host.
        return create(invocation, image, withStdin, new LogConfig(LogConfig.LoggingType.NONE), null, true, null);
    }

    /** A tool whose stdout or stdin is a named pipe of the daemon's (see {@link SidecarStream}). */
    String createOnPipe(ToolInvocation invocation, String image, SidecarStream stream) {
        return create(invocation, image, false, new LogConfig(LogConfig.LoggingType.NONE), null, true,
                new Redirect(stream.bind(), stream.pipeInContainer(), stream.redirection()));
    }

    /**
     * The tool runs under sh with {@code redirection} (e.g. {@code > /pgwarden-stream/stdout}) applied, the pipe
     * brought into the container by {@code mount}.
     */
    private record Redirect(Bind mount, String pipe, String redirection) {
    }

    /**
     * @param logs     NONE for tools (stdout is data); the default driver for servers, whose log explains a failure
     * @param publish  a loopback port published to the container's 5432, or null
     * @param labelled false for a restored server the operator keeps: the orphan reaper must not remove it
     */
    private String create(ToolInvocation invocation, String image, boolean withStdin, LogConfig logs, Integer publish, boolean labelled,
                          Redirect redirect) {
        List<String> cmd = new ArrayList<>();
        // The pipe's name is pgwarden's (no quoting needed); the tool and its arguments stay separate words ("$@").
        // A mount that is not the daemon's directory would have the tool write the backup into a plain file there.
        ToolInvocation.Container placement = invocation.container();
        List<String> guards = new ArrayList<>();
        if (redirect != null) guards.add("[ -p " + redirect.pipe() + " ] || { echo \"pgwarden: " + redirect.pipe()
                + " is not the daemon's named pipe: runner.streamMount must be runner.streamDir as the Docker engine's host sees it\" >&2;"
                + " exit 2; }");
        // A bind mount of a path the engine's host lacks fails; one that exists there but is not the daemon's directory
        // (the daemon runs in a container) would have the tool work on something else: the daemon's mark proves it.
        if (placement.hostDir().isPresent()) guards.add("[ -e \"$PGWARDEN_HOST_DIR/" + HOST_DIR_MARK + "\" ] || { echo \"pgwarden: $PGWARDEN_HOST_DIR"
                + " is not the daemon's directory: the Docker engine must run on the daemon's host and see it at the same path\" >&2; exit 2; }");
        placement.output().ifPresent(out -> guards.add("[ -d " + out.forTool() + " ] || { echo \"pgwarden: " + out.forTool()
                + " is not the daemon's directory: runner.streamMount must be runner.streamDir as the Docker engine's host sees it\" >&2;"
                + " exit 2; }"));
        if (!guards.isEmpty()) cmd.addAll(List.of("sh", "-c", String.join("; ", guards) + "; exec \"$@\""
                + (redirect == null ? "" : " " + redirect.redirection()), "pgwarden-sidecar"));
        cmd.add(invocation.tool());
        cmd.addAll(invocation.arguments());
        List<String> env = new ArrayList<>();
        invocation.secretEnvironment().forEach((k, v) -> env.add(k + "=" + v.value()));
        placement.hostDir().ifPresent(d -> env.add("PGWARDEN_HOST_DIR=" + d));
        HostConfig host = HostConfig.newHostConfig().withNetworkMode(placement.network().orElse(settings.network()));
        if (logs != null) host.withLogConfig(logs);
        List<Bind> binds = new ArrayList<>();
        placement.volume().ifPresent(v -> binds.add(new Bind(v, new Volume(placement.mountPath()))));
        if (redirect != null) binds.add(redirect.mount());
        placement.output().ifPresent(out -> binds.add(new Bind(out.bindSource().orElseThrow(), new Volume(out.bindTarget()))));
        if (!binds.isEmpty()) host.withBinds(binds);
        placement.hostDir().ifPresent(d -> host.withMounts(List.of(new Mount().withType(MountType.BIND).withSource(d.toString()).withTarget(d.toString()))));
        confine(host, placement.user().or(() -> placement.output().map(OutputDir::owner))
                .filter(u -> !u.equals("root") && !u.equals("0") && !u.startsWith("0:")).isPresent());
        settings.memoryBytes().ifPresent(host::withMemory);
        settings.cpus().ifPresent(c -> host.withNanoCPUs((long) (c * 1e9)));
        Map<String, String> labels = labelled ? Map.of(DockerSettings.LABEL_INSTANCE, settings.instance(),
                DockerSettings.LABEL_JOB, invocation.job(), DockerSettings.LABEL_RUN, invocation.runId())
                : Map.of(LABEL_RESTORED, invocation.runId());
        try {
            var create = docker.createContainerCmd(image).withCmd(cmd).withEnv(env).withTty(false)
                    .withAttachStdout(true).withAttachStderr(true).withAttachStdin(withStdin).withStdinOpen(withStdin)
                    .withStdInOnce(withStdin).withLabels(labels)
                    .withName(DockerToolRunner.containerName(invocation.job(), invocation.runId()));
            // The tool's files in an output directory must be the daemon's to read (pg_basebackup makes them 0600).
            placement.user().or(() -> placement.output().map(OutputDir::owner)).ifPresent(create::withUser);
            if (publish != null) {
                Ports ports = new Ports();
                ports.bind(ExposedPort.tcp(5432), Ports.Binding.bindIpAndPort("127.0.0.1", publish));
                create.withExposedPorts(ExposedPort.tcp(5432));
                host.withPortBindings(ports);
            }
            return create.withHostConfig(host).exec().getId();
        } catch (RuntimeException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot create a sidecar from image '" + image + "' for "
                    + invocation.job() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Least privilege for every container pgwarden starts: no capabilities (a tool running as a user needs none; one
     * running as the image's root gets back only what preparing a volume for user postgres and switching to it takes),
     * no privilege gained through setuid binaries, and a bound on processes (a fork bomb in a hostile image or dump
     * stops there; a restored server's connections fit well within it).
     */
    static void confine(HostConfig host, boolean runsAsUser) {
        host.withCapDrop(Capability.ALL);
        if (!runsAsUser) host.withCapAdd(Capability.CHOWN, Capability.DAC_OVERRIDE, Capability.FOWNER, Capability.SETUID, Capability.SETGID);
        host.withSecurityOpts(List.of("no-new-privileges"));
        host.withPidsLimit(PIDS_LIMIT);
    }

    /**
     * Starts a long-running container (a restored PostgreSQL) and returns its id; it runs until {@link #removeContainer}.
     * @param keep true: an operator's server, not labelled with this instance, so no restart of the daemon removes it
     */
    public String startServer(ToolInvocation invocation, Integer publishPort, boolean keep) {
        String image = settings.imageFor(invocation.pgMajor());
        checkEngine();
        ensureImage(image);
        String id = create(invocation, image, false, null, publishPort, !keep, null);
        if (!keep) live.add(id);
        try {
            docker.startContainerCmd(id).exec();
        } catch (RuntimeException e) {
            removeContainer(id);
            throw new PgwardenException(ErrorCode.TOOL, "cannot start container " + shortId(id) + " for " + invocation.job() + ": "
                    + Errors.withRootCause(e), e);
        }
        return id;
    }

    public boolean isRunning(String id) {
        try {
            return Boolean.TRUE.equals(docker.inspectContainerCmd(id).exec().getState().getRunning());
        } catch (NotFoundException gone) {
            return false;
        }
    }

    /** The container's last log lines, joined for an error message. */
    public String logTail(String id, int lines) {
        StderrTail tail = new StderrTail();
        try {
            docker.logContainerCmd(id).withStdOut(true).withStdErr(true).withTail(lines).exec(new ResultCallback.Adapter<Frame>() {
                @Override
                public void onNext(Frame frame) {
                    tail.accept(frame.getPayload(), 0, frame.getPayload().length);
                }
            }).awaitCompletion(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            return "(no log: " + e.getMessage() + ")";
        }
        return String.join(" | ", tail.lines());
    }

    public void removeContainer(String id) {
        remove(id);
        live.remove(id);
    }

    /** A scratch volume labelled with this instance (an orphan if the daemon dies before removing it). */
    public void createVolume(String name, String job, String runId, boolean keep) {
        checkEngine();
        Map<String, String> labels = keep ? Map.of(LABEL_RESTORED, runId) : Map.of(DockerSettings.LABEL_INSTANCE, settings.instance(),
                DockerSettings.LABEL_JOB, job, DockerSettings.LABEL_RUN, runId);
        try {
            docker.createVolumeCmd().withName(name).withLabels(labels).exec();
        } catch (RuntimeException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot create volume '" + name + "' for " + job + ": " + Errors.withRootCause(e), e);
        }
    }

    public void removeVolume(String name) {
        try {
            docker.removeVolumeCmd(name).exec();
        } catch (NotFoundException gone) {
            // already gone
        } catch (RuntimeException e) {
            log.warn("cannot remove volume '{}'; it will be removed at the next start: {}", name, e.getMessage());
        }
    }

    void remove(String id) {
        try {
            docker.removeContainerCmd(id).withForce(true).withRemoveVolumes(true).exec();
        } catch (NotFoundException gone) {
            // already gone
        } catch (RuntimeException e) {
            log.warn("cannot remove sidecar {}; it will be removed at the next start: {}", shortId(id), e.getMessage());
        }
    }

    /** Removes every container labelled with this instance: sidecars left by a crash or a kill. */
    public int removeOrphans() {
        String instance = settings.instance();
        return removeLabelled(DockerSettings.LABEL_INSTANCE, instance::equals, "an earlier run of instance '" + instance + "'");
    }

    /**
     * Removes the sidecars and scratch volumes of one run, whichever daemon started them: another daemon sharing the
     * schedules found that run interrupted (its daemon died) and cleans up what it left on this engine. A run's tools
     * are labelled with its id or the id and a suffix ({@code ID-globals}, {@code ID-version}).
     */
    public int removeRun(String runId) {
        return removeLabelled(DockerSettings.LABEL_RUN, v -> v.equals(runId) || v.startsWith(runId + "-"), "interrupted run " + runId);
    }

    private int removeLabelled(String label, java.util.function.Predicate<String> value, String leftBy) {
        checkEngine();
        List<Container> orphans = docker.listContainersCmd().withShowAll(true).withLabelFilter(List.of(label)).exec().stream()
                .filter(c -> value.test(c.getLabels().getOrDefault(label, ""))).toList();
        for (Container c : orphans) {
            log.warn("removing orphaned sidecar {} (job {}, run {}) left by {}", shortId(c.getId()),
                    c.getLabels().get(DockerSettings.LABEL_JOB), c.getLabels().get(DockerSettings.LABEL_RUN), leftBy);
            remove(c.getId());
        }
        var volumes = docker.listVolumesCmd().withFilter("label", List.of(label)).exec().getVolumes();
        for (var v : volumes == null ? List.<com.github.dockerjava.api.command.InspectVolumeResponse>of() : volumes) {
            if (v.getLabels() == null || !value.test(v.getLabels().getOrDefault(label, ""))) continue;
            log.warn("removing orphaned scratch volume '{}' left by {}", v.getName(), leftBy);
            removeVolume(v.getName());
        }
        return orphans.size();
    }

    public void checkEngine() {
        try {
            docker.pingCmd().exec();
        } catch (RuntimeException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot reach the Docker engine at " + dockerHost + ": " + Errors.withRootCause(e)
                    + "; HINT: is dockerd running, and may this user use its socket? (or use runner type: process)", e);
        }
    }

    public void ensureImage(String image) {
        try {
            docker.inspectImageCmd(image).exec();
            return;
        } catch (NotFoundException absent) {
            if (settings.pull() == RunnerConfig.Pull.NEVER) {
                throw new PgwardenException(ErrorCode.TOOL, "image '" + image + "' is not present and runner.pull is 'never'; "
                        + "HINT: docker pull " + image + ", or build it, or set runner.pull: if-absent");
            }
        }
        log.info("pulling image '{}'", image);
        try {
            if (!docker.pullImageCmd(image).exec(new PullImageResultCallback()).awaitCompletion(PULL_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                throw new PgwardenException(ErrorCode.TOOL, "pulling image '" + image + "' did not finish within " + PULL_TIMEOUT.toMinutes() + " minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PgwardenException(ErrorCode.TOOL, "interrupted while pulling image '" + image + "'", e);
        } catch (RuntimeException e) {
            if (e instanceof PgwardenException p) throw p;
            throw new PgwardenException(ErrorCode.TOOL, "cannot pull image '" + image + "': " + Errors.withRootCause(e), e);
        }
    }

    @Override
    public void close() {
        // Containers still running belong to runs being abandoned (daemon stopping): remove them, their runs then fail.
        for (String id : List.copyOf(live)) remove(id);
        try {
            docker.close();
        } catch (IOException e) {
            log.debug("closing the Docker client: {}", e.toString());
        }
    }

    static String shortId(String id) {
        return id.length() > 12 ? id.substring(0, 12) : id;
    }
}
