package io.pgwarden.runner;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** Runs tools as local processes from {@code binDir} ("{major}" is replaced by the server's major version). */
public final class ProcessToolRunner implements ToolRunner {
    public static final String DEFAULT_BIN_DIR = io.pgwarden.config.RunnerConfig.DEFAULT_BIN_DIR;

    private final String binDirTemplate;
    private final java.util.Set<Process> live = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("tool-watchdog").factory());

    public ProcessToolRunner(String binDirTemplate) {
        this.binDirTemplate = binDirTemplate;
    }

    @Override
    public ToolResult run(ToolInvocation invocation, InputStream stdin, StdoutConsumer stdout) {
        ToolInvocation.Container placement = invocation.container();
        if (!placement.equals(ToolInvocation.Container.DEFAULT) && !placement.hostDirOnly() && !placement.outputOnly()) {
            throw new PgwardenException(ErrorCode.INTERNAL, invocation.job() + " needs a sidecar container (a volume), which the process runner has not");
        }
        Path tool = binDir(invocation.pgMajor()).resolve(invocation.tool());
        if (!Files.isExecutable(tool)) {
            throw new PgwardenException(ErrorCode.TOOL, "tool '" + invocation.tool() + "' not found in '" + tool.getParent()
                    + "' (runner.binDir); HINT: install the PostgreSQL " + invocation.pgMajor() + " client tools");
        }
        List<String> command = new ArrayList<>();
        command.add(tool.toString());
        command.addAll(invocation.arguments());
        ProcessBuilder builder = ChildEnvironment.minimal(new ProcessBuilder(command));
        if (stdin == null) builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        invocation.secretEnvironment().forEach((k, v) -> builder.environment().put(k, v.value()));
        long start = System.nanoTime();
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot start '" + tool + "': " + e.getMessage(), e);
        }
        live.add(process);
        if (stdin != null) feed(process, stdin, invocation);
        try {
            return supervise(invocation, process, stdout, start);
        } finally {
            live.remove(process);
        }
    }

    private ToolResult supervise(ToolInvocation invocation, Process process, StdoutConsumer stdout, long start) {
        StderrTail tail = new StderrTail();
        Thread stderrReader = Thread.ofVirtual().name("stderr-" + invocation.runId()).start(() -> drain(process.getErrorStream(), tail));
        AtomicBoolean timedOut = new AtomicBoolean();
        ScheduledFuture<?> kill = watchdog.schedule(() -> {
            timedOut.set(true);
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }, invocation.timeout().toMillis(), TimeUnit.MILLISECONDS);
        try (InputStream out = process.getInputStream()) {
            stdout.consume(out);
            out.transferTo(java.io.OutputStream.nullOutputStream()); // a consumer that stopped early must not block the tool
            int exit = process.waitFor();
            stderrReader.join(Duration.ofSeconds(5));
            return new ToolResult(exit, timedOut.get(), tail.lines(), Duration.ofNanos(System.nanoTime() - start));
        } catch (IOException | RuntimeException e) {
            process.destroyForcibly();
            if (timedOut.get()) return new ToolResult(-1, true, tail.lines(), Duration.ofNanos(System.nanoTime() - start));
            throw e instanceof PgwardenException p ? p : new PgwardenException(ErrorCode.TOOL,
                    invocation.tool() + " output could not be processed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new PgwardenException(ErrorCode.TOOL, invocation.tool() + " was interrupted", e);
        } finally {
            kill.cancel(false);
        }
    }

    /** Copies stdin into the tool beside the run; a tool that stops reading early ends the copy, not the run. */
    private static void feed(Process process, InputStream stdin, ToolInvocation invocation) {
        Thread.ofVirtual().name("stdin-" + invocation.runId()).start(() -> {
            try (var in = stdin; var out = process.getOutputStream()) {
                in.transferTo(out);
            } catch (IOException toolGone) {
                // the tool exited or closed its input; its exit code says what happened
            }
        });
    }

    private static void drain(InputStream stderr, StderrTail tail) {
        byte[] buf = new byte[8192];
        try (stderr) {
            int n;
            while ((n = stderr.read(buf)) > 0) tail.accept(buf, 0, n);
        } catch (IOException ignored) {
            // the process is gone; what we have is the tail
        }
    }

    @Override
    public java.util.Optional<String> toolIdentity(String tool, int pgMajor) {
        Path file = binDir(pgMajor).resolve(tool);
        try {
            var attributes = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
            return java.util.Optional.of(file.toRealPath() + ":" + attributes.size() + ":" + attributes.lastModifiedTime().toMillis());
        } catch (IOException e) {
            return java.util.Optional.empty(); // the run says what is wrong
        }
    }

    @Override
    public java.util.Optional<OutputDir> outputDir(Path localParent, String prefix) {
        return java.util.Optional.of(OutputDir.local(localParent, prefix));
    }

    Path binDir(int major) {
        return Path.of(binDirTemplate.replace("{major}", Integer.toString(major)));
    }

    @Override
    public String describe(int pgMajor) {
        return "process " + binDir(pgMajor);
    }

    @Override
    public void close() {
        // Tools still running belong to runs being abandoned (daemon stopping): kill them, their runs then fail.
        for (Process p : java.util.List.copyOf(live)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        watchdog.shutdownNow();
    }
}
