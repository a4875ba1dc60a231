package io.pgwarden.runner;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.WaitContainerResultCallback;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.StreamType;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.io.BlockingPipe;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
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
    private static final int STDOUT_CHUNK = 256 << 10;

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
        String id = engine.create(invocation, image, stdin != null);
        engine.track(id);
        log.debug("{}: {} in sidecar {} from image {}", invocation.job(), invocation.tool(), containerName(invocation), image);
        try {
            return runContainer(id, invocation, stdin, stdout);
        } finally {
            engine.removeContainer(id);
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
        return engine().removeOrphans();
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
