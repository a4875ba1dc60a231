package io.pgwarden.restore;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import io.pgwarden.runner.ChildEnvironment;

/**
 * PostgreSQL started by pgwarden on a restored directory with local binaries (pg_ctl), queried with psql through
 * its socket directory. PostgreSQL refuses to run as root: when pgwarden is root, the server runs as user postgres.
 */
public final class LocalServer implements RestoredServer {
    private final Path binDir;
    private final Path dataDir;
    private final Path logFile;
    private final Path socketDir;
    private final int port;
    private final String listen;
    private final boolean archiving;
    private boolean started;

    /**
     * @param listen    listen_addresses ('' for a socket-only scratch copy)
     * @param archiving false forces archive_mode=off (a scratch copy must never archive into the repository)
     */
    public LocalServer(Path binDir, Path dataDir, Path logFile, Path socketDir, int port, String listen, boolean archiving) {
        this.binDir = binDir;
        this.dataDir = dataDir;
        this.logFile = logFile;
        this.socketDir = socketDir;
        this.port = port;
        this.listen = listen;
        this.archiving = archiving;
    }

    /**
     * Starts postgres itself rather than through pg_ctl: pg_ctl hands its command line (-D in double quotes, -o
     * as is) to /bin/sh, so a directory named with {@code $(} or {@code '} would run a command. Each setting here is
     * one argument, with no shell between. setsid detaches the server as pg_ctl would (a Ctrl-C of the CLI that
     * started it must not stop it); readiness is read from postmaster.pid, as pg_ctl -w does.
     */
    public void start(Duration timeout) {
        List<String> command = new ArrayList<>(List.of("setsid"));
        if (asRoot()) command.addAll(List.of("runuser", "-u", "postgres", "--"));
        command.addAll(List.of(binDir.resolve("postgres").toString(), "-D", dataDir.toString(), "-c", "port=" + port,
                "-c", "listen_addresses=" + listen, "-c", "unix_socket_directories=" + socketDir));
        if (!archiving) command.addAll(List.of("-c", "archive_mode=off"));
        Process postmaster;
        try {
            postmaster = ChildEnvironment.minimal(new ProcessBuilder(command)).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).directory(new java.io.File("/")).start();
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot start postgres on '" + dataDir + "': " + e.getMessage(), e);
        }
        started = true;
        awaitReady(postmaster, timeout);
    }

    /** Waits until postmaster.pid says ready (or standby: a paused or consistent recovery), or the server exits. */
    private void awaitReady(Process postmaster, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String status = pidFileStatus();
            if (status.equals("ready") || status.equals("standby")) return;
            if (!postmaster.isAlive() && !running()) {
                started = false;
                throw new PgwardenException(ErrorCode.TOOL, "postgres on '" + dataDir + "' exited with code " + postmaster.exitValue()
                        + " while starting; the server's log: " + logTail());
            }
            if (System.nanoTime() > deadline) {
                close();
                throw new PgwardenException(ErrorCode.TOOL, "postgres on '" + dataDir + "' was not ready within " + timeout.toSeconds()
                        + "s; the server's log: " + logTail());
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new PgwardenException(ErrorCode.TOOL, "interrupted while postgres on '" + dataDir + "' was starting", e);
            }
        }
    }

    /** Line 8 of postmaster.pid (PostgreSQL 10+): starting, stopping, ready or standby; empty while absent or short. */
    private String pidFileStatus() {
        try {
            List<String> lines = Files.readAllLines(dataDir.resolve("postmaster.pid"));
            return lines.size() >= 8 ? lines.get(7).strip() : "";
        } catch (IOException e) {
            return "";
        }
    }

    /** Leaves the server running when this object is closed (an operator's restored server). */
    public void detach() {
        started = false;
    }

    @Override
    public String query(String database, String sql) {
        return run(List.of(binDir.resolve("psql").toString(), "-X", "-At", "-h", socketDir.toString(), "-p", Integer.toString(port),
                "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-c", sql), Duration.ofMinutes(10), "psql").strip();
    }

    @Override
    public String describe() {
        return "on " + dataDir + " (port " + port + " on " + (listen.isEmpty() ? "no address" : listen) + ", socket directory " + socketDir
                + ", log " + logFile + ")";
    }

    @Override
    public String stopHint() {
        return "stop it with: " + binDir.resolve("pg_ctl") + " -D " + dataDir + " stop";
    }

    @Override
    public boolean running() {
        return Files.exists(dataDir.resolve("postmaster.pid")); // removed when the server exits
    }

    @Override
    public String logTail() {
        try {
            List<String> lines = Files.readAllLines(logFile);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - 8), lines.size()));
        } catch (IOException e) {
            return "(no server log)";
        }
    }

    @Override
    public void close() {
        if (!started) return;
        started = false;
        try {
            run(List.of(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-m", "immediate", "-w", "stop"), Duration.ofMinutes(2),
                    "pg_ctl stop");
        } catch (PgwardenException e) {
            // the scratch directory is removed next; a server that did not stop is reported by the caller's log
        }
    }

    /** A Unix socket path (directory + "/.s.PGSQL." + port) longer than this is refused by the kernel and PostgreSQL. */
    private static final int MAX_SOCKET_PATH = 107;

    /**
     * {@code preferred} when the socket path under it fits the kernel's limit, else a new short directory under /tmp
     * (the caller removes it): a scratch directory deep in a long path would otherwise keep the server from starting.
     */
    public static Path socketDirectory(Path preferred, int port) throws IOException {
        if (preferred.toString().length() + "/.s.PGSQL.".length() + Integer.toString(port).length() <= MAX_SOCKET_PATH) return preferred;
        return Files.createTempDirectory(Path.of("/tmp"), "pgwarden-sock-");
    }

    /**
     * A new cluster (superuser postgres): trust on its own socket, SCRAM over TCP with the password in
     * {@code passwordFile} (which must be readable by the user initdb runs as).
     */
    public static void initdb(Path binDir, Path dataDir, Path passwordFile) {
        run(List.of(binDir.resolve("initdb").toString(), "-D", dataDir.toString(), "-U", "postgres", "--auth-local=trust",
                "--auth-host=scram-sha-256", "--pwfile=" + passwordFile, "--no-instructions"), Duration.ofMinutes(5), "initdb");
    }

    /** PostgreSQL refuses to run as root: when pgwarden is root, what the server will use belongs to postgres. */
    public static void handOverToPostgres(Path... paths) {
        if (!asRoot()) return;
        List<String> cmd = new ArrayList<>(List.of("chown", "-R", "postgres:postgres"));
        for (Path p : paths) cmd.add(p.toString());
        try {
            Process p = ChildEnvironment.minimal(new ProcessBuilder(cmd)).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) throw new PgwardenException(ErrorCode.TOOL, String.join(" ", cmd) + " failed: " + out.strip());
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot run chown: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PgwardenException(ErrorCode.TOOL, "interrupted while handing " + List.of(paths) + " to postgres", e);
        }
    }

    public static boolean asRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static String run(List<String> command, Duration timeout, String what) {
        List<String> cmd = new ArrayList<>();
        if (asRoot()) cmd.addAll(List.of("runuser", "-u", "postgres", "--"));
        cmd.addAll(command);
        try {
            Process p = ChildEnvironment.minimal(new ProcessBuilder(cmd)).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .directory(new java.io.File("/")).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new PgwardenException(ErrorCode.TOOL, what + " did not finish within " + timeout.toSeconds() + "s");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) throw new PgwardenException(ErrorCode.TOOL, what + " exited with code " + p.exitValue() + ": " + text.strip());
            return text;
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot run " + what + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PgwardenException(ErrorCode.TOOL, what + " was interrupted", e);
        }
    }
}
