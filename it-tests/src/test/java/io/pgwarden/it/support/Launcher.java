package io.pgwarden.it.support;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs the built distribution's bin/pgwarden, exactly as an operator or PostgreSQL would. */
public final class Launcher {
    private Launcher() {
    }

    public static Path home() {
        Path home = Path.of(System.getProperty("pgwarden.home", "../daemon/target/pgwarden")).toAbsolutePath().normalize();
        if (!Files.isExecutable(home.resolve("bin/pgwarden"))) {
            throw new IllegalStateException("no distribution at " + home + ": build it with ./mvnw package first");
        }
        return home;
    }

    public static Path executable() {
        return home().resolve("bin/pgwarden");
    }

    /** The archive_command that pushes ready WAL files ahead (a shell script beside the launcher). */
    public static Path walPushScript() {
        return home().resolve("bin/pgwarden-wal-push");
    }

    /** Starts bin/pgwarden in the background (e.g. the daemon), its output appended to {@code log}. */
    public static Process start(Path log, String... args) throws java.io.IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(executable().toString());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    /** {@code pgwarden run} in the background, returned once /health answers on port (it fails if the daemon exits first). */
    public static Process startDaemon(Path config, Path log, int port) throws Exception {
        return startDaemon(List.of(), config, log, "127.0.0.1", port);
    }

    /** As above, the command behind {@code prefix} (e.g. {@code ip netns exec NS}), /health awaited on host:port. */
    public static Process startDaemon(List<String> prefix, Path config, Path log, String host, int port) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(executable().toString(), "run", "--config", config.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).pollInterval(java.time.Duration.ofMillis(100)).until(() -> {
            if (!p.isAlive()) throw new IllegalStateException("daemon exited: " + Files.readString(log));
            try {
                return http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://" + host + ":" + port + "/health")).build(),
                        java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
            } catch (java.io.IOException notYet) {
                return false;
            }
        });
        return p;
    }

    public static Processes.Result run(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(executable().toString());
        cmd.addAll(List.of(args));
        return Processes.run(cmd, null);
    }
}
