package io.pgwarden.it.bench;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
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
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: what encryption costs, in one run. Two daemons (bin/pgwarden run) on one S3Proxy, one writing in clear
 * and one encrypting (AES256_GCM_HKDF_1MB), both zstd-1: 100 real pgbench segments pushed with curl, alternately to
 * each, one at a time; then base backups of a pgbench database (scale -Dbench.scale, default 20) through the process
 * runner, alternately, twice each (PostgreSQL archives to both). Report in it-tests/target/bench/encryption.txt.
 */
@Tag("benchmark")
class EncryptionOverheadBenchmark {
    private static final int SCALE = Integer.getInteger("bench.scale", 20);
    private static final String ADMIN = "bench-admin-token-0123456789";
    private final HttpClient http = HttpClient.newHttpClient();

    record Daemon(String name, int port, Process process) {
    }

    @Test
    void encryptionOverhead() throws Exception {
        Path dir = TestDirs.create("pgwarden-ebench-");
        List<Path> segments = WalPushBenchmark.pgbenchSegments(dir);
        Files.writeString(dir.resolve("main-header"), "Authorization: Bearer main-token-0123456789abcdef\n");
        Files.writeString(dir.resolve("bench-header"), "Authorization: Bearer bench-token-0123456789abcdef\n");
        assertOk(Launcher.run("keyset", "create", "--out", dir.resolve("keyset.json").toString()));
        try (S3Server s3 = new S3Server().start(); PgCluster pg = PgCluster.init(dir, "pg", 16)) {
            s3.createBucket("bench");
            Daemon plain = start(dir, s3, pg, "plain", "");
            Daemon sealed = start(dir, s3, pg, "sealed", "  encryption: {keyset: \"${file:" + dir.resolve("keyset.json") + "}\"}\n");
            try {
                pg.configure("archive_mode = on", "max_wal_size = '4GB'", "archive_command = '" + archive(dir, plain) + " && " + archive(dir, sealed) + "'").start();
                Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pgbench").toString(), "-h", "127.0.0.1", "-p",
                        Integer.toString(pg.port()), "-U", "postgres", "-i", "-s", Integer.toString(SCALE), "-q", "postgres"), "pgbench -i");
                long dbBytes = Long.parseLong(pg.query("SELECT pg_database_size('postgres')"));
                pg.query("CHECKPOINT");
                pg.awaitArchived(pg.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(10));

                for (Path s : segments.subList(0, 5)) {
                    push(dir, plain, "warmup", s);
                    push(dir, sealed, "warmup", s);
                }
                long[] clear = new long[segments.size()];
                long[] encrypted = new long[segments.size()];
                for (int i = 0; i < segments.size(); i++) {
                    clear[i] = push(dir, plain, "bench", segments.get(i));
                    encrypted[i] = push(dir, sealed, "bench", segments.get(i));
                }
                double[] base = new double[4];
                for (int round = 0; round < 2; round++) {
                    base[round] += seconds(BackupBenchmark.runThroughDaemon(http, plain.port(), ADMIN, "base"));
                    base[2 + round] += seconds(BackupBenchmark.runThroughDaemon(http, sealed.port(), ADMIN, "base"));
                }
                double clearBase = Math.min(base[0], base[1]);
                double sealedBase = Math.min(base[2], base[3]);
                double mb = dbBytes / 1e6;
                double clearRate = segments.size() / (Arrays.stream(clear).sum() / 1e9);
                double sealedRate = segments.size() / (Arrays.stream(encrypted).sum() / 1e9);
                String text = """
                        Encryption overhead: two daemons on one S3Proxy (in-memory) on loopback, zstd-1, 2 cores, in one run
                          WAL push, %d pgbench segments, curl one at a time   segments/s   p50 ms   p99 ms
                            in clear                                          %9.1f  %7.1f  %7.1f
                            encrypted                                         %9.1f  %7.1f  %7.1f
                            encrypted / clear throughput: %.2fx
                          base backup, pgbench scale %d (%.0f MB), process runner, best of 2
                            in clear     %7.1f MB/s
                            encrypted    %7.1f MB/s
                            encrypted / clear throughput: %.2fx
                          daemon peak RSS (VmHWM): in clear %d MiB, encrypted %d MiB
                        """.formatted(segments.size(), clearRate, WalPushBenchmark.pct(clear, 50), WalPushBenchmark.pct(clear, 99),
                        sealedRate, WalPushBenchmark.pct(encrypted, 50), WalPushBenchmark.pct(encrypted, 99), sealedRate / clearRate,
                        SCALE, mb, mb / clearBase, mb / sealedBase, clearBase / sealedBase, WalPushBenchmark.peakRssKb(plain.process().pid()) / 1024, WalPushBenchmark.peakRssKb(sealed.process().pid()) / 1024);
                System.out.println(text);
                Files.createDirectories(Path.of("target/bench"));
                Files.writeString(Path.of("target/bench/encryption.txt"), text);
            } finally {
                for (Daemon d : List.of(plain, sealed)) d.process().destroyForcibly().waitFor();
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    private Daemon start(Path dir, S3Server s3, PgCluster pg, String name, String encryption) throws Exception {
        int port = TestDirs.freePort();
        Path config = dir.resolve(name + ".yml");
        Files.writeString(config, """
                server: {listen: "127.0.0.1:%d", adminToken: %s, instance: bench-%s}
                %s%sclusters:
                  main: {walToken: main-token-0123456789abcdef, connection: {host: 127.0.0.1, port: %d, user: postgres}, runner: {type: process}}
                  warmup: {walToken: warmup-token-0123456789abcdef}
                  bench: {walToken: bench-token-0123456789abcdef}
                """.formatted(port, ADMIN, name, s3.repositoryYaml("bench", name), encryption, pg.port()));
        Files.writeString(dir.resolve("warmup-header"), "Authorization: Bearer warmup-token-0123456789abcdef\n");
        Process p = Launcher.start(dir.resolve(name + ".log"), "run", "--config", config.toString());
        for (int i = 0; i < 300; i++) {
            try {
                if (http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ready")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return new Daemon(name, port, p);
            } catch (java.io.IOException notYet) {
                // starting
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException(name + " did not become ready: " + Files.readString(dir.resolve(name + ".log")));
    }

    private static String archive(Path dir, Daemon d) {
        return "curl --fail -sS -H @" + dir.resolve("main-header") + " -T %p http://127.0.0.1:" + d.port() + "/v1/clusters/main/wal/%f";
    }

    private static long push(Path dir, Daemon d, String cluster, Path segment) {
        long start = System.nanoTime();
        assertOk(Processes.run(List.of("curl", "--fail", "-sS", "-o", "/dev/null", "-H", "@" + dir.resolve(cluster + "-header"), "-T",
                segment.toString(), "http://127.0.0.1:" + d.port() + "/v1/clusters/" + cluster + "/wal/" + segment.getFileName()), null));
        return System.nanoTime() - start;
    }

    private static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }

    private static void assertOk(Processes.Result r) {
        if (r.exitCode() != 0) throw new IllegalStateException("exit " + r.exitCode() + ": " + r.stderr());
    }
}
