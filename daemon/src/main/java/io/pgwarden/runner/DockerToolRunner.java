package io.pgwarden.runner;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.WaitContainerResultCallback;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
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

    private final DockerEngine engine;
    private final DockerSettings settings;
    private final DockerClient docker;

    public DockerToolRunner(DockerSettings settings) {
        this.engine = new DockerEngine(settings);
        this.settings = settings;
        this.docker = engine.client();
    }

    /** Containers and volumes beyond a tool's run: restored servers, scratch volumes, orphans. */
    public DockerEngine engine() {
        return engine;
    }

    @Override
    public ToolResult run(ToolInvocation invocation, java.io.InputStream stdin, StdoutConsumer stdout) {
        String image = settings.imageFor(invocation.pgMajor());
        engine.checkEngine();
        engine.ensureImage(image);
        // A tool writing files into an output directory writes nothing worth a pipe to stdout.
        SidecarStream stream = settings.stream().isPresent() && invocation.container().output().isEmpty()
                ? streamFor(invocation, stdin == null ? SidecarStream.Direction.OUT : SidecarStream.Direction.IN) : null;
        Optional<Path> mark = invocation.container().hostDir().map(dir -> mark(dir, invocation));
        try {
            String id = stream == null ? engine.create(invocation, image, stdin != null) : engine.createOnPipe(invocation, image, stream);
            engine.track(id);
            log.debug("{}: {} in sidecar {} from image {}", invocation.job(), invocation.tool(), containerName(invocation), image);
            try {
                return runContainer(id, invocation, stdin, stdout, stream);
            } finally {
                engine.removeContainer(id);
            }
        } finally {
            if (stream != null) stream.close();
            mark.ifPresent(DockerToolRunner::deleteQuietly);
        }
    }

    private static Path mark(Path dir, ToolInvocation invocation) {
        try {
            return Files.writeString(dir.resolve(DockerEngine.HOST_DIR_MARK), invocation.runId() + "\n");
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot prepare '" + dir + "' for " + invocation.tool() + " in a sidecar: " + e.getMessage(), e);
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            log.warn("cannot remove '{}': {}", file, e.getMessage());
        }
    }

    @Override
    public Optional<String> toolIdentity(String tool, int pgMajor) {
        String image = settings.imageFor(pgMajor);
        try {
            return Optional.of(tool + "@" + image + "@" + docker.inspectImageCmd(image).exec().getId());
        } catch (RuntimeException e) {
            return Optional.empty(); // absent or the engine unreachable: the run says what is wrong
        }
    }

    @Override
    public Optional<OutputDir> outputDir(Path localParent, String prefix) {
        if (settings.stream().isEmpty()) return Optional.empty();
        DockerSettings.StreamDir dir = settings.stream().get();
        try {
            return Optional.of(SidecarStream.outputDir(dir, settings.instance()));
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot make a directory for a tool's output files in runner.streamDir " + dir.dir()
                    + ": " + e.getMessage() + "; HINT: the directory must be writable by the daemon", e);
        }
    }

    private SidecarStream streamFor(ToolInvocation invocation, SidecarStream.Direction direction) {
        DockerSettings.StreamDir dir = settings.stream().orElseThrow();
        try {
            return SidecarStream.create(dir, settings.instance(), direction);
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot make the named pipe for " + invocation.tool() + "'s " + direction.file
                    + " in runner.streamDir " + dir.dir() + ": " + e.getMessage() + "; HINT: the directory must be writable by the daemon", e);
        }
    }

    /**
     * @param stream the named pipe of the tool's stdout (no stdin) or of its stdin; null: both on the attach stream.
     *               stderr always comes through the attach stream.
     */
    private ToolResult runContainer(String id, ToolInvocation invocation, java.io.InputStream stdin, StdoutConsumer stdout, SidecarStream stream) {
        long start = System.nanoTime();
        StderrTail tail = new StderrTail();
        AtomicBoolean timedOut = new AtomicBoolean();
        // Attached before the start: the output arrives once, as it is produced, and none of it is missed.
        boolean stdoutOnPipe = stream != null && stdin == null;
        try (DockerAttach attach = engine.attach(id, stdin != null && stream == null)) {
            docker.startContainerCmd(id).exec();
            Thread watchdog = Thread.ofVirtual().start(() -> killAfter(id, invocation.timeout(), timedOut));
            Thread stderr = null;
            if (stream != null) {
                // A tool that never opens the pipe must not leave the daemon's side waiting on it.
                Thread.ofVirtual().start(() -> {
                    try {
                        docker.waitContainerCmd(id).exec(new WaitContainerResultCallback()).awaitStatusCode();
                    } catch (RuntimeException removed) {
                        // gone: the daemon's side is released all the same
                    }
                    stream.release();
                });
            }
            if (stdin != null && stream != null) Thread.ofVirtual().name("sidecar-stdin").start(() -> feed(stream, stdin));
            else if (stdin != null) attach.feed(stdin);
            if (stdoutOnPipe) stderr = Thread.ofVirtual().start(() -> drain(attach.stdout(tail)));
            try (java.io.InputStream out = stdoutOnPipe ? stream.openForReading() : attach.stdout(tail)) {
                stdout.consume(out);
                out.transferTo(java.io.OutputStream.nullOutputStream()); // a consumer that stopped early must not stall the tool
            } finally {
                watchdog.interrupt();
            }
            int exit = awaitExit(id);
            if (stderr != null) stderr.join(TimeUnit.SECONDS.toMillis(10));
            return new ToolResult(exit, timedOut.get(), tail.lines(), Duration.ofNanos(System.nanoTime() - start));
        } catch (IOException | RuntimeException e) {
            if (timedOut.get()) return new ToolResult(-1, true, tail.lines(), Duration.ofNanos(System.nanoTime() - start));
            throw e instanceof PgwardenException p ? p : new PgwardenException(ErrorCode.TOOL, invocation.tool()
                    + " in sidecar " + shortId(id) + " failed: " + e.getMessage() + tailSuffix(tail), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PgwardenException(ErrorCode.TOOL, "interrupted while waiting for " + invocation.tool() + " in sidecar " + shortId(id), e);
        }
    }

    private int awaitExit(String id) {
        return docker.waitContainerCmd(id).exec(new WaitContainerResultCallback()).awaitStatusCode(1, TimeUnit.MINUTES);
    }

    /**
     * Copies the input into the tool's stdin pipe and closes it (the tool's EOF). A tool gone ends it quietly, and
     * the input is closed then too: its producer must not wait forever for a reader that stopped.
     */
    private static void feed(SidecarStream stream, java.io.InputStream stdin) {
        try (stdin; java.io.OutputStream out = stream.openForWriting()) {
            stdin.transferTo(out);
        } catch (IOException toolGone) {
            // the run's result says what happened
        }
    }

    private static void drain(java.io.InputStream in) {
        try (in) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        } catch (IOException attachEnded) {
            // the run's result says what happened
        }
    }

    private void killAfter(String id, Duration timeout, AtomicBoolean timedOut) {
        try {
            Thread.sleep(timeout);
        } catch (InterruptedException finished) {
            return;
        }
        timedOut.set(true);
        engine.kill(id);
    }

    /** Kills the sidecar of a running invocation (its input failed); its run then ends with exit 137. */
    public void kill(ToolInvocation invocation) {
        engine.kill(containerName(invocation));
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

    @Override
    public int removeOrphans() {
        int containers = engine().removeOrphans();
        settings.stream().ifPresent(dir -> SidecarStream.removeLeftovers(dir, settings.instance()));
        return containers;
    }

    @Override
    public int removeRun(String runId) {
        return engine().removeRun(runId);
    }

    @Override
    public String describe(int pgMajor) {
        return "docker image " + settings.imageFor(pgMajor) + " (network " + settings.network() + ")";
    }

    @Override
    public void close() {
        engine.close();
    }

    private static String shortId(String id) {
        return DockerEngine.shortId(id);
    }

    private static String tailSuffix(StderrTail tail) {
        List<String> lines = tail.lines();
        return lines.isEmpty() ? "" : "; stderr: " + String.join(" | ", lines);
    }
}
