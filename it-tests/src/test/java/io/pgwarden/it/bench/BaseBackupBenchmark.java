package io.pgwarden.it.bench;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: base backup throughput on a pgbench database (scale -Dbench.scale, default 100), in one run:
 * (a) pgwarden backup --kind base through a Docker sidecar into S3Proxy with zstd (peak RSS of that process),
 * (b) pg_basebackup -D - -Ft -X none > /dev/null (the ceiling),
 * (c) pg_basebackup -D - -Ft -X none | zstd -1 | curl -T - into S3Proxy (the shell pipeline).
 * Report in it-tests/target/bench/base-backup.txt.
 */
@Tag("benchmark")
class BaseBackupBenchmark {
    private static final int SCALE = Integer.getInteger("bench.scale", 100);
    /** -Dbench.runner=process compares the local-process runner, to tell the Docker stream's cost apart. */
    private static final String RUNNER = System.getProperty("bench.runner", "docker");

    @Test
    void baseBackupThroughput() throws Exception {
        Path dir = TestDirs.create("pgwarden-bbench-");
        try (S3Server s3 = new S3Server().start()) {
            s3.createBucket("bench");
            PgCluster pg = PgCluster.init(dir, "pg", 16);
            try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, s3.repositoryYaml("bench", "pgwarden"), "", """
                    connection: {host: 127.0.0.1, port: %d, user: postgres}
                    %s
                    """.formatted(pg.port(), RUNNER.equals("process") ? "runner: {type: process}"
                    : "runner: {type: docker, image: \"local/postgres:{major}\", network: host, pull: never}"))) {
                pg.configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'", "max_wal_size = '4GB'").start();
                Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pgbench").toString(), "-h", "127.0.0.1", "-p",
                        Integer.toString(pg.port()), "-U", "postgres", "-i", "-s", Integer.toString(SCALE), "-q", "postgres"), "pgbench -i");
                long dbBytes = Long.parseLong(pg.query("SELECT pg_database_size('postgres')"));
                String bb = PgCluster.BIN.resolve("pg_basebackup") + " -h 127.0.0.1 -p " + pg.port() + " -U postgres -D - -Ft -X none -c fast";

                long ceiling = timed(List.of("runuser", "-u", "postgres", "--", "bash", "-c", bb + " > /dev/null"), null);
                long pipeline = timed(List.of("runuser", "-u", "postgres", "--", "bash", "-c", "set -o pipefail; " + bb
                        + " | zstd -1 -q | curl --fail -sS --aws-sigv4 aws:amz:us-east-1:s3 --user " + S3Server.ACCESS_KEY + ":" + S3Server.SECRET_KEY
                        + " -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T - " + s3.endpoint() + "/bench/pipeline/base.tar.zst"), null);
                AtomicLong rssKb = new AtomicLong();
                long pgwardenNanos = timed(List.of(Launcher.executable().toString(), "backup", "--config", pgwarden.configFile().toString(),
                        "--cluster", "main", "--kind", "base"), rssKb);

                double mb = dbBytes / 1e6;
                String text = """
                        Base backup benchmark: pgbench scale %d, database %.0f MB, S3Proxy (in-memory) on loopback, 2 cores
                          (b) pg_basebackup > /dev/null                 %7.1f MB/s  (ceiling)
                          (c) pg_basebackup | zstd -1 | curl -T - (S3)  %7.1f MB/s
                          (a) pgwarden backup, %-7s runner, zstd-1  %7.1f MB/s   peak RSS %d MB
                          ratio (a)/(c) = %.2fx   (a)/(b) = %.2fx
                        """.formatted(SCALE, mb, mb / (ceiling / 1e9), mb / (pipeline / 1e9), RUNNER, mb / (pgwardenNanos / 1e9), rssKb.get() / 1024,
                        (double) pipeline / pgwardenNanos, (double) ceiling / pgwardenNanos);
                System.out.println(text);
                Files.createDirectories(Path.of("target/bench"));
                Files.writeString(Path.of("target/bench/base-backup.txt"), text);
            } finally {
                pg.close();
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    /** Runs a command to completion; with rssKb, samples the process's resident memory and keeps the peak. */
    private static long timed(List<String> command, AtomicLong rssKb) throws Exception {
        long start = System.nanoTime();
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        Thread sampler = rssKb == null ? null : Thread.ofVirtual().start(() -> {
            Path status = Path.of("/proc/" + p.pid() + "/status");
            while (p.isAlive()) {
                try {
                    Files.readAllLines(status).stream().filter(l -> l.startsWith("VmRSS:"))
                            .forEach(l -> rssKb.accumulateAndGet(Long.parseLong(l.replaceAll("\\D", "")), Math::max));
                    Thread.sleep(50);
                } catch (Exception gone) {
                    return;
                }
            }
        });
        String out = new String(p.getInputStream().readAllBytes());
        int exit = p.waitFor();
        long nanos = System.nanoTime() - start;
        if (sampler != null) sampler.join();
        if (exit != 0) throw new IllegalStateException(command + " failed (" + exit + "): " + out);
        return nanos;
    }
}
