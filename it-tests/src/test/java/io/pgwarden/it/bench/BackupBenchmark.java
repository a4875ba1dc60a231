package io.pgwarden.it.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: backup throughput on a pgbench database (scale -Dbench.scale, default 100), all in one run, with the
 * daemon as its own process (bin/pgwarden run) so its peak RSS is measured; runs are triggered through the admin
 * API and timed by the daemon's own start and finish times.
 * Base: (a) pgwarden through the runner (-Dbench.runner=docker|process) into S3Proxy, zstd-1;
 * (b) pg_basebackup -D - -Ft -X none > /dev/null (the ceiling); (c) pg_basebackup | zstd -1 | curl -T - into S3Proxy.
 * Dump: (d) pgwarden dump of the database; (e) pg_dump -Fc > /dev/null; (f) pg_dump -Fc -Z0 | zstd -1 | curl -T -.
 * Report in it-tests/target/bench/backup.txt (backup-scaleN.txt for another scale). For large scales, -Dbench.s3.dir=DIR keeps
 * S3Proxy's objects on disk instead of in this JVM's heap.
 */
@Tag("benchmark")
class BackupBenchmark {
    private static final int SCALE = Integer.getInteger("bench.scale", 100);
    private static final String RUNNER = System.getProperty("bench.runner", "docker");
    private static final boolean PIPELINES = Boolean.parseBoolean(System.getProperty("bench.pipelines", "true"));
    /** docker: the sidecar's stdout through a named pipe (runner.streamDir, "pipe") or the engine's attach stream ("attach"). */
    private static final String STREAM = System.getProperty("bench.stream", "pipe");
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void backupThroughput() throws Exception {
        Path dir = TestDirs.create("pgwarden-bbench-");
        Process daemon = null;
        try (S3Server s3 = new S3Server().start()) {
            s3.createBucket("bench");
            PgCluster pg = PgCluster.init(dir, "pg", 16);
            int port = TestDirs.freePort();
            Path config = PgwardenFixture.writeConfig(dir, "127.0.0.1:" + port, s3.repositoryYaml("bench", "pgwarden"), "instance: bench", """
                    connection: {host: 127.0.0.1, port: %d, user: postgres}
                    %s
                    """.formatted(pg.port(), RUNNER.equals("process") ? "runner: {type: process}"
                    : "runner: {type: docker, image: \"local/postgres:{major}\", network: host, pull: never"
                    + (STREAM.equals("pipe") ? ", streamDir: " + dir.resolve("stream") : "") + "}"));
            try {
                pg.configure("archive_mode = on", "archive_command = '" + PgwardenFixture.archiveCommandWithHeaderFile(dir, port) + "'",
                        "max_wal_size = '4GB'").start();
                Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pgbench").toString(), "-h", "127.0.0.1", "-p",
                        Integer.toString(pg.port()), "-U", "postgres", "-i", "-s", Integer.toString(SCALE), "-q", "postgres"), "pgbench -i");
                long dbBytes = Long.parseLong(pg.query("SELECT pg_database_size('postgres')"));
                pg.query("CHECKPOINT"); // so no measured run pays for flushing pgbench's data
                String conn = " -h 127.0.0.1 -p " + pg.port() + " -U postgres ";
                String bb = PgCluster.BIN.resolve("pg_basebackup") + conn + "-D - -Ft -X none -c fast";
                String dump = PgCluster.BIN.resolve("pg_dump") + conn + "-d postgres -Fc";
                String curl = " | zstd -1 -q | curl --fail -sS --aws-sigv4 aws:amz:us-east-1:s3 --user " + S3Server.ACCESS_KEY + ":"
                        + S3Server.SECRET_KEY + " -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T - " + s3.endpoint() + "/bench/pipeline/";

                AtomicLong rssKb = new AtomicLong();
                daemon = Launcher.start(dir.resolve("daemon.log"), "run", "--config", config.toString());
                Thread sampler = sampleRss(daemon, rssKb);
                awaitHealthy(port);
                // pgbench's WAL is archived first, so archiving does not compete with the measured runs.
                pg.awaitArchived(pg.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(10));
                shell(bb + " > /dev/null"); // warm-up: the page cache holds the data for every measured run alike
                long baseCeiling = shell(bb + " > /dev/null");
                // -Dbench.pipelines=false skips the two curl baselines (one PUT each: S3Proxy refuses them beyond about 1 GB).
                long basePipeline = PIPELINES ? shell("set -o pipefail; " + bb + curl + "base.tar.zst") : -1;
                Duration base = runThroughDaemon(http, port, PgwardenFixture.ADMIN_TOKEN, "base");
                long dumpCeiling = shell(dump + " > /dev/null");
                long dumpPipeline = PIPELINES ? shell("set -o pipefail; " + dump + " -Z0" + curl + "dump.zst") : -1;
                Duration dumped = runThroughDaemon(http, port, PgwardenFixture.ADMIN_TOKEN, "dump");
                long rssAfter = currentRssKb(daemon);
                String restoreText = restores(dir, config, bb); // the daemon still archives: pg_basebackup waits for that
                daemon.destroy();
                daemon.waitFor();
                sampler.join();

                double mb = dbBytes / 1e6;
                String text = """
                        Backup benchmark: pgbench scale %d, database %.0f MB, S3Proxy (%s) on loopback, 2 cores, %s runner%s
                          (b) pg_basebackup > /dev/null                  %7.1f MB/s  (ceiling)
                          (c) pg_basebackup | zstd -1 | curl -T - (S3)   %7.1f MB/s
                          (a) pgwarden base backup, zstd-1               %7.1f MB/s   (a)/(c) = %.2fx, (a)/(b) = %.2fx
                          (e) pg_dump -Fc > /dev/null                    %7.1f MB/s  (ceiling)
                          (f) pg_dump -Fc -Z0 | zstd -1 | curl -T - (S3) %7.1f MB/s
                          (d) pgwarden dump (globals + database)         %7.1f MB/s   (d)/(e) = %.2fx, (d)/(f) = %.2fx
                          daemon peak RSS %d MiB (after the runs: %d MiB)
                        """.formatted(SCALE, mb, System.getProperty("bench.s3.dir") == null ? "in memory" : "on disk", RUNNER, RUNNER.equals("docker") ? " (stdout through " + STREAM + ")" : "", mb / sec(baseCeiling), mb / sec(basePipeline), mb / seconds(base),
                        sec(basePipeline) / seconds(base), sec(baseCeiling) / seconds(base),
                        mb / sec(dumpCeiling), mb / sec(dumpPipeline), mb / seconds(dumped),
                        sec(dumpCeiling) / seconds(dumped), sec(dumpPipeline) / seconds(dumped), rssKb.get() / 1024, rssAfter / 1024);
                text += restoreText;
                System.out.println(text);
                Files.createDirectories(Path.of("target/bench"));
                Files.writeString(Path.of(SCALE == 100 ? "target/bench/backup.txt" : "target/bench/backup-scale" + SCALE + ".txt"), text);
            } finally {
                if (daemon != null) daemon.destroyForcibly().waitFor();
                pg.close();
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    /**
     * Restore of the newest base backup from S3Proxy by the CLI (its own process, peak RSS sampled): (g) unpack only,
     * (h) with --start, to a promoted server; against (i) tar -x of the same backup, uncompressed, from local disk.
     */
    private static String restores(Path dir, Path config, String bb) throws Exception {
        Path plain = dir.resolve("plain.tar");
        Path plainDir = Files.createDirectories(dir.resolve("plain"));
        Processes.checked(Processes.run(List.of("chown", "postgres", dir.toString(), plainDir.toString()), null), "chown");
        shell(bb + " > " + plain);
        long tarBytes = Files.size(plain);
        long tarX = shell("tar -x -C " + plainDir + " -f " + plain);
        Processes.run(List.of("rm", "-rf", plainDir.toString(), plain.toString()), null);

        AtomicLong unpackRss = new AtomicLong();
        long t0 = System.nanoTime();
        runCli(unpackRss, "restore", "--config", config.toString(), "--cluster", "main", "--latest", "--target-dir",
                dir.resolve("restored").toString());
        long unpack = System.nanoTime() - t0;
        Processes.run(List.of("rm", "-rf", dir.resolve("restored").toString()), null);

        AtomicLong startRss = new AtomicLong();
        List<String> start = new java.util.ArrayList<>(List.of("restore", "--config", config.toString(), "--cluster", "main", "--latest",
                "--start", "--archive-mode", "off"));
        if (RUNNER.equals("process")) start.addAll(List.of("--target-dir", dir.resolve("started").toString()));
        t0 = System.nanoTime();
        String out = runCli(startRss, start.toArray(String[]::new));
        long promoted = System.nanoTime() - t0;
        java.util.regex.Matcher docker = java.util.regex.Pattern.compile("started in container (\\S+) on volume (\\S+),").matcher(out);
        if (docker.find()) {
            Processes.run(List.of("docker", "rm", "-f", docker.group(1)), null);
            Processes.run(List.of("docker", "volume", "rm", docker.group(2)), null);
        } else {
            Processes.asPostgres(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", dir.resolve("started").toString(), "-m", "immediate", "stop");
        }
        double mb = tarBytes / 1e6;
        return """
                Restore of that base backup (%.0f MB as tar), CLI as its own process:
                  (i) tar -x of the uncompressed tar from local disk      %7.1f MB/s  (baseline)
                  (g) pgwarden restore (S3 -> verify -> unzstd -> untar)  %7.1f MB/s   (g)/(i) = %.2fx, CLI peak RSS %d MiB
                  (h) pgwarden restore --start, to a promoted server      %7.1f s      (%s runner), CLI peak RSS %d MiB
                """.formatted(mb, mb / sec(tarX), mb / sec(unpack), sec(tarX) / sec(unpack), unpackRss.get() / 1024, sec(promoted), RUNNER,
                startRss.get() / 1024);
    }

    private static String runCli(AtomicLong peakRssKb, String... args) throws Exception {
        Path log = Files.createTempFile("pgwarden-bench-cli", ".log");
        Process cli = Launcher.start(log, args);
        Thread sampler = sampleRss(cli, peakRssKb);
        int exit = cli.waitFor();
        sampler.join();
        String out = Files.readString(log); // stdout and stderr
        if (exit != 0) throw new IllegalStateException(String.join(" ", args) + " failed (" + exit + "): " + out);
        return out;
    }

    /** A run of cluster 'main' through the admin API, timed by the daemon's own start and finish times. */
    static Duration runThroughDaemon(HttpClient http, int port, String adminToken, String kind) throws Exception {
        return runThroughDaemon(http, "127.0.0.1", port, adminToken, kind);
    }

    /** As above, the daemon listening on host:port. */
    static Duration runThroughDaemon(HttpClient http, String host, int port, String adminToken, String kind) throws Exception {
        URI base = URI.create("http://" + host + ":" + port);
        JsonNode state = JSON.readTree(send(http, adminToken, HttpRequest.newBuilder(base.resolve("/v1/clusters/main/backups?kind=" + kind))
                .POST(HttpRequest.BodyPublishers.noBody())));
        String id = state.get("id").asText();
        while (state.get("state").asText().equals("running")) {
            Thread.sleep(100);
            state = JSON.readTree(send(http, adminToken, HttpRequest.newBuilder(base.resolve("/v1/clusters/main/runs/" + id)).GET()));
        }
        if (!state.get("state").asText().equals("succeeded")) throw new IllegalStateException(kind + " failed: " + state);
        return Duration.between(Instant.parse(state.get("startedAt").asText()), Instant.parse(state.get("finishedAt").asText()));
    }

    private static String send(HttpClient http, String adminToken, HttpRequest.Builder request) throws Exception {
        return http.send(request.header("Authorization", "Bearer " + adminToken).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private void awaitHealthy(int port) throws Exception {
        for (int i = 0; i < 300; i++) {
            try {
                if (http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return;
            } catch (java.io.IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new IllegalStateException("daemon did not start");
    }

    private static double sec(long nanos) {
        return nanos < 0 ? Double.NaN : nanos / 1e9;
    }

    private static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }

    static long shell(String script) throws Exception {
        return shell(List.of(), script);
    }

    /** As above, behind {@code prefix} (e.g. ip netns exec NS), which runs as root. */
    static long shell(List<String> prefix, String script) throws Exception {
        long start = System.nanoTime();
        List<String> command = new java.util.ArrayList<>(prefix);
        command.addAll(List.of("runuser", "-u", "postgres", "--", "bash", "-c", script));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IllegalStateException(script + " failed: " + out);
        return System.nanoTime() - start;
    }

    private static Thread sampleRss(Process p, AtomicLong peakKb) {
        return Thread.ofVirtual().start(() -> {
            while (p.isAlive()) {
                peakKb.accumulateAndGet(currentRssKb(p), Math::max);
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    private static long currentRssKb(Process p) {
        try {
            return Files.readAllLines(Path.of("/proc/" + p.pid() + "/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                    .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(0);
        } catch (Exception gone) {
            return 0;
        }
    }
}
