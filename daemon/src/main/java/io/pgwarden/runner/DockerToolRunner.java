package io.pgwarden.runner;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.PullImageResultCallback;
import com.github.dockerjava.api.command.WaitContainerResultCallback;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.Ports;
import com.github.dockerjava.api.model.Volume;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.LogConfig;
import com.github.dockerjava.api.model.StreamType;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import io.pgwarden.config.RunnerConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.Errors;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.io.BlockingPipe;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs each tool in a short-lived sidecar container through the Docker API. The container is labelled with
 * this instance, the job and the run, never logs to disk (its stdout is the backup), and is removed after
 * every run, whatever happened.
 */
public final class DockerToolRunner implements ToolRunner {
    private static final Logger log = LoggerFactory.getLogger(DockerToolRunner.class);
    private static final Duration PULL_TIMEOUT = Duration.ofMinutes(10);
    private static final int STDOUT_CHUNK = 256 << 10;
    /** On a restored server (and its volume) an operator keeps: which run of pgwarden made it. */
    public static final String LABEL_RESTORED = "io.pgwarden.restored-by";

    private final java.util.Set<String> live = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final DockerSettings settings;
    private final DockerClient docker;
    private final String dockerHost;

    public DockerToolRunner(DockerSettings settings) {
        this.settings = settings;
        var config = DefaultDockerClientConfig.createDefaultConfigBuilder();
        settings.dockerHost().ifPresent(config::withDockerHost);
        var built = config.build();
        this.dockerHost = built.getDockerHost().toString();
        this.docker = DockerClientImpl.getInstance(built, new ApacheDockerHttpClient.Builder()
                .dockerHost(built.getDockerHost()).sslConfig(built.getSSLConfig())
                .maxConnections(32).connectionTimeout(Duration.ofSeconds(5)).build());
    }

    @Override
    public ToolResult run(ToolInvocation invocation, java.io.InputStream stdin, StdoutConsumer stdout) {
        String image = settings.imageFor(invocation.pgMajor());
        checkEngine();
        ensureImage(image);
        String id = create(invocation, image, stdin != null);
        live.add(id);
        log.debug("{}: {} in sidecar {} from image {}", invocation.job(), invocation.tool(), containerName(invocation), image);
        try {
            return runContainer(id, invocation, stdin, stdout);
        } finally {
            remove(id);
            live.remove(id);
        }
    }

    private ToolResult runContainer(String id, ToolInvocation invocation, java.io.InputStream stdin, StdoutConsumer stdout) {
        long start = System.nanoTime();
        BlockingPipe pipe = new BlockingPipe();
        StderrTail tail = new StderrTail();
        AtomicBoolean timedOut = new AtomicBoolean();
        try (var attach = attach(id, pipe, tail, stdin)) {
            docker.startContainerCmd(id).exec();
            Thread watchdog = Thread.ofVirtual().start(() -> killAfter(id, invocation.timeout(), timedOut));
            try (pipe) {
                stdout.consume(pipe);
                pipe.transferTo(java.io.OutputStream.nullOutputStream()); // a consumer that stopped early must not stall the tool
            } finally {
                watchdog.interrupt();
            }
            int exit = docker.waitContainerCmd(id).exec(new WaitContainerResultCallback()).awaitStatusCode(1, TimeUnit.MINUTES);
            return new ToolResult(exit, timedOut.get(), tail.lines(), Duration.ofNanos(System.nanoTime() - start));
        } catch (IOException | RuntimeException e) {
            if (timedOut.get()) return new ToolResult(-1, true, tail.lines(), Duration.ofNanos(System.nanoTime() - start));
            throw e instanceof PgwardenException p ? p : new PgwardenException(ErrorCode.TOOL, invocation.tool()
                    + " in sidecar " + shortId(id) + " failed: " + e.getMessage() + tailSuffix(tail), e);
        }
    }

    private ResultCallback.Adapter<Frame> attach(String id, BlockingPipe pipe, StderrTail tail, java.io.InputStream stdin) {
        // Frames arrive in ~1 KiB pieces: gather them into large chunks (a copy, which docker-java's reused buffer needs).
        java.io.OutputStream stdout = pipe.writer(STDOUT_CHUNK);
        ResultCallback.Adapter<Frame> callback = new ResultCallback.Adapter<>() {
            @Override
            public void onNext(Frame frame) {
                byte[] payload = frame.getPayload();
                if (frame.getStreamType() == StreamType.STDERR) {
                    tail.accept(payload, 0, payload.length);
                } else if (frame.getStreamType() == StreamType.STDOUT || frame.getStreamType() == StreamType.RAW) {
                    try {
                        stdout.write(payload, 0, payload.length);
                    } catch (IOException readerGone) {
                        // the consumer stopped reading; the run's result says why
                    }
                }
            }

            @Override
            public void onError(Throwable error) {
                pipe.finish(error);
            }

            @Override
            public void onComplete() {
                try {
                    stdout.flush();
                } catch (IOException readerGone) {
                    // nothing left to deliver to
                }
                pipe.finish(null);
            }
        };
        // Attach before start, without the log backlog: the output arrives once, as it is produced.
        var attach = docker.attachContainerCmd(id).withStdOut(true).withStdErr(true).withFollowStream(true).withLogs(false);
        if (stdin != null) attach.withStdIn(stdin);
        attach.exec(callback);
        try {
            callback.awaitStarted(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PgwardenException(ErrorCode.TOOL, "interrupted while attaching to sidecar " + shortId(id), e);
        }
        return callback;
    }

    private void killAfter(String id, Duration timeout, AtomicBoolean timedOut) {
        try {
            Thread.sleep(timeout);
        } catch (InterruptedException finished) {
            return;
        }
        timedOut.set(true);
        try {
            docker.killContainerCmd(id).exec();
        } catch (RuntimeException e) {
            log.debug("sidecar {} ended before it could be killed: {}", shortId(id), e.getMessage());
        }
    }

    private String create(ToolInvocation invocation, String image, boolean withStdin) {
        // Docker would also write stdout (the whole backup) to a json log file on the host.
        return create(invocation, image, withStdin, new LogConfig(LogConfig.LoggingType.NONE), null, true);
    }

    /**
     * @param logs     NONE for tools (stdout is data); the default driver for servers, whose log explains a failure
     * @param publish  a loopback port published to the container's 5432, or null
     * @param labelled false for a restored server the operator keeps: the orphan reaper must not remove it
     */
    private String create(ToolInvocation invocation, String image, boolean withStdin, LogConfig logs, Integer publish, boolean labelled) {
        List<String> cmd = new ArrayList<>();
        cmd.add(invocation.tool());
        cmd.addAll(invocation.arguments());
        List<String> env = new ArrayList<>();
        invocation.secretEnvironment().forEach((k, v) -> env.add(k + "=" + v.value()));
        ToolInvocation.Container placement = invocation.container();
        HostConfig host = HostConfig.newHostConfig().withNetworkMode(placement.network().orElse(settings.network()));
        if (logs != null) host.withLogConfig(logs);
        placement.volume().ifPresent(v -> host.withBinds(new Bind(v, new Volume(placement.mountPath()))));
        confine(host, placement.user().filter(u -> !u.equals("root") && !u.equals("0")).isPresent());
        settings.memoryBytes().ifPresent(host::withMemory);
        settings.cpus().ifPresent(c -> host.withNanoCPUs((long) (c * 1e9)));
        Map<String, String> labels = labelled ? Map.of(DockerSettings.LABEL_INSTANCE, settings.instance(),
                DockerSettings.LABEL_JOB, invocation.job(), DockerSettings.LABEL_RUN, invocation.runId())
                : Map.of(LABEL_RESTORED, invocation.runId());
        try {
            var create = docker.createContainerCmd(image).withCmd(cmd).withEnv(env).withTty(false)
                    .withAttachStdout(true).withAttachStderr(true).withAttachStdin(withStdin).withStdinOpen(withStdin)
                    .withStdInOnce(withStdin).withLabels(labels)
                    .withName(containerName(invocation));
            placement.user().ifPresent(create::withUser);
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

    /** Processes per container: a restored server with max_connections 100 uses about 110. */
    static final long PIDS_LIMIT = 512;

    /**
     * Starts a long-running container (a restored PostgreSQL) and returns its id; it runs until {@link #removeContainer}.
     * @param keep true: an operator's server, not labelled with this instance, so no restart of the daemon removes it
     */
    public String startServer(ToolInvocation invocation, Integer publishPort, boolean keep) {
        String image = settings.imageFor(invocation.pgMajor());
        checkEngine();
        ensureImage(image);
        String id = create(invocation, image, false, null, publishPort, !keep);
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

    /** Kills the sidecar of a running invocation (its input failed); its run then ends with exit 137. */
    public void kill(ToolInvocation invocation) {
        try {
            docker.killContainerCmd(containerName(invocation)).exec();
        } catch (RuntimeException e) {
            log.debug("sidecar of {} ended before it could be killed: {}", invocation.job(), e.getMessage());
        }
    }

    private static String containerName(ToolInvocation invocation) {
        return containerName(invocation.job(), invocation.runId());
    }

    /**
     * Docker allows only [a-zA-Z0-9_.-] in a name: a run id carries a database name escaped for object keys
     * ({@code my db} → {@code my%20db}), so '%' becomes '.', which that escaping never produces (names stay distinct),
     * and anything else outside the set becomes '_'.
     */
    public static String containerName(String job, String runId) {
        return ("pgwarden-" + job + "-" + runId).replace('%', '.').replaceAll("[^A-Za-z0-9_.-]", "_");
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

    private void remove(String id) {
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
        checkEngine();
        List<Container> orphans = docker.listContainersCmd().withShowAll(true)
                .withLabelFilter(Map.of(DockerSettings.LABEL_INSTANCE, settings.instance())).exec();
        for (Container c : orphans) {
            log.warn("removing orphaned sidecar {} (job {}, run {}) left by an earlier run of instance '{}'", shortId(c.getId()),
                    c.getLabels().get(DockerSettings.LABEL_JOB), c.getLabels().get(DockerSettings.LABEL_RUN), settings.instance());
            remove(c.getId());
        }
        var volumes = docker.listVolumesCmd().withFilter("label", List.of(DockerSettings.LABEL_INSTANCE + "=" + settings.instance())).exec().getVolumes();
        for (var v : volumes == null ? List.<com.github.dockerjava.api.command.InspectVolumeResponse>of() : volumes) {
            log.warn("removing orphaned scratch volume '{}' left by an earlier run of instance '{}'", v.getName(), settings.instance());
            removeVolume(v.getName());
        }
        return orphans.size();
    }

    private void checkEngine() {
        try {
            docker.pingCmd().exec();
        } catch (RuntimeException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot reach the Docker engine at " + dockerHost + ": " + Errors.withRootCause(e)
                    + "; HINT: is dockerd running, and may this user use its socket? (or use runner type: process)", e);
        }
    }

    private void ensureImage(String image) {
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
    public String describe(int pgMajor) {
        return "docker image " + settings.imageFor(pgMajor) + " (network " + settings.network() + ")";
    }

    @Override
    public void close() {
        // Sidecars still running belong to runs being abandoned (daemon stopping): remove them, their runs then fail.
        for (String id : List.copyOf(live)) remove(id);
        try {
            docker.close();
        } catch (IOException e) {
            log.debug("closing the Docker client: {}", e.toString());
        }
    }

    private static String shortId(String id) {
        return id.length() > 12 ? id.substring(0, 12) : id;
    }

    private static String tailSuffix(StderrTail tail) {
        List<String> lines = tail.lines();
        return lines.isEmpty() ? "" : "; stderr: " + String.join(" | ", lines);
    }
}
