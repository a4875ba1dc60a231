package io.pgwarden.it.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command and captures its output; PostgreSQL tools run as user postgres when we are root. */
public final class Processes {
    public record Result(int exitCode, String stdout, String stderr) {
    }

    private Processes() {
    }

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    public static Result run(List<String> command, Path workDir) {
        return run(command, workDir, java.util.Map.of());
    }

    public static Result run(List<String> command, Path workDir, java.util.Map<String, String> env) {
        try {
            ProcessBuilder pb = new ProcessBuilder(command);
            pb.environment().putAll(env);
            if (workDir != null) pb.directory(workDir.toFile());
            Process p = pb.start();
            p.getOutputStream().close();
            var out = p.getInputStream().readAllBytes();
            var err = p.getErrorStream().readAllBytes();
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out: " + command);
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Runs as user postgres (PostgreSQL refuses to run as root). */
    public static Result asPostgres(String... command) {
        List<String> cmd = new ArrayList<>();
        if (isRoot()) cmd.addAll(List.of("runuser", "-u", "postgres", "--"));
        cmd.addAll(List.of(command));
        return run(cmd, Path.of("/tmp"));
    }

    public static Result checked(Result r, String what) {
        if (r.exitCode() != 0) {
            throw new IllegalStateException(what + " failed with exit " + r.exitCode() + ": " + r.stderr() + r.stdout());
        }
        return r;
    }
}
