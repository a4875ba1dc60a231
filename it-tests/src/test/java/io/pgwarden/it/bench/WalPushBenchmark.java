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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: measures WAL push throughput. 100 real 16 MiB segments from a pgbench run are pushed sequentially
 * with curl through pgwarden (a separate daemon process) into S3Proxy, and, in the same run, curl PUT straight to
 * S3Proxy uncompressed (the baseline). Then 4 pushers in parallel while the daemon's peak RSS is read.
 * Run: ./mvnw -B verify -Pbench -Dsurefire.failIfNoSpecifiedTests=false ; report in it-tests/target/bench/wal-push.txt
 */
@Tag("benchmark")
class WalPushBenchmark {
    private static final int SEGMENTS = Integer.getInteger("bench.segments", 100);
    private static final String TOKEN = "bench-token-0123456789abcdef";

    @Test
    void walPushThroughput() throws Exception {
        Path dir = TestDirs.create("pgwarden-bench-");
        List<Path> segments = pgbenchSegments(dir);
        try (S3Server s3 = new S3Server().start()) {
            s3.createBucket("bench");
            Process daemon = startDaemon(dir, s3);
            try {
                push(segments.subList(0, 5), f -> pgwardenCurl(dir, "warmup", f));
                push(segments.subList(0, 5), f -> directCurl(s3, "warmup-direct", f));
                long[] viaPgwarden = push(segments, f -> pgwardenCurl(dir, "c1", f));
                long[] direct = push(segments, f -> directCurl(s3, "direct", f));
                long parallelNanos = parallel(segments, dir);
                long peakRssKb = peakRssKb(daemon.pid());
                nativeMemorySummary(daemon.pid(), "daemon");
                report(dir, segments, viaPgwarden, direct, parallelNanos, peakRssKb);
            } finally {
                daemon.destroy();
                daemon.waitFor();
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    /**
     * A pgbench run with 16 MiB segments; archive_command copies each finished segment aside. Generating them
     * takes minutes, so they are kept in target/bench/wal and reused by the next run.
     */
    static List<Path> pgbenchSegments(Path dir) throws Exception {
        Path wal = TestDirs.forPostgres(Path.of("target/bench").toAbsolutePath(), "wal");
        if (count(wal) < SEGMENTS) generate(dir, wal);
        try (var files = Files.list(wal)) {
            return files.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}")).sorted().limit(SEGMENTS).toList();
        }
    }

    private static void generate(Path dir, Path wal) throws Exception {
        try (PgCluster pg = PgCluster.init(dir, "bench-pg", 16)
                .configure("archive_mode = on", "archive_command = 'cp %p " + wal + "/%f'", "max_wal_size = '4GB'",
                        "synchronous_commit = off").start()) {
            String port = Integer.toString(pg.port());
            Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pgbench").toString(), "-h", "127.0.0.1", "-p", port,
                    "-U", "postgres", "-i", "-s", "20", "-q", "postgres"), "pgbench -i");
            while (count(wal) < SEGMENTS) {
                Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pgbench").toString(), "-h", "127.0.0.1", "-p", port,
                        "-U", "postgres", "-c", "4", "-j", "2", "-T", "10", "postgres"), "pgbench");
            }
        }
    }

    private static long count(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}")).count();
        }
    }

    private static Process startDaemon(Path dir, S3Server s3) throws Exception {
        int port = TestDirs.freePort();
        StringBuilder clusters = new StringBuilder();
        // Each cluster its own token (the daemon refuses a shared one) and its own header file.
        for (String c : List.of("warmup", "c1", "p1", "p2", "p3", "p4")) {
            clusters.append("  ").append(c).append(": {walToken: ").append(TOKEN).append("-").append(c).append("}\n");
            Files.writeString(dir.resolve("auth-header-" + c), "Authorization: Bearer " + TOKEN + "-" + c + "\n");
        }
        Path config = dir.resolve("bench.yml");
        // -Dbench.compression=none|gzip|zstd, -Dbench.level=N to compare encodings.
        String encoding = "  compression: " + System.getProperty("bench.compression", "zstd") + "\n"
                + (System.getProperty("bench.level") == null ? "" : "  compressionLevel: " + System.getProperty("bench.level") + "\n");
        Files.writeString(config, "server: {listen: \"127.0.0.1:" + port + "\"}\n"
                + s3.repositoryYaml("bench", "pgwarden") + encoding + "clusters:\n" + clusters);
        Files.writeString(dir.resolve("port"), Integer.toString(port));
        Process p = new ProcessBuilder(Launcher.executable().toString(), "run", "--config", config.toString())
                .redirectErrorStream(true).redirectOutput(Path.of("target/bench/daemon.log").toAbsolutePath().toFile()).start();
        HttpClient http = HttpClient.newHttpClient();
        for (int i = 0; i < 200; i++) {
            try {
                if (http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ready")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return p;
            } catch (java.io.IOException notYet) {
                // starting
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("daemon did not become ready: " + Files.readString(Path.of("target/bench/daemon.log")));
    }

    private static List<String> pgwardenCurl(Path dir, String cluster, Path file) {
        String port = read(dir.resolve("port"));
        return List.of("curl", "--fail", "-sS", "-o", "/dev/null", "-H", "@" + dir.resolve("auth-header-" + cluster), "-T", file.toString(),
                "http://127.0.0.1:" + port + "/v1/clusters/" + cluster + "/wal/" + file.getFileName());
    }

    private static List<String> directCurl(S3Server s3, String prefix, Path file) {
        return List.of("curl", "--fail", "-sS", "-o", "/dev/null", "--aws-sigv4", "aws:amz:us-east-1:s3",
                "--user", S3Server.ACCESS_KEY + ":" + S3Server.SECRET_KEY, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                "-T", file.toString(), s3.endpoint() + "/bench/" + prefix + "/" + file.getFileName());
    }

    private static long[] push(List<Path> files, java.util.function.Function<Path, List<String>> command) {
        long[] nanos = new long[files.size()];
        for (int i = 0; i < files.size(); i++) {
            long start = System.nanoTime();
            Processes.checked(Processes.run(command.apply(files.get(i)), null), "curl " + files.get(i).getFileName());
            nanos[i] = System.nanoTime() - start;
        }
        return nanos;
    }

    /** 4 pushers in flight, each archiving every segment to its own cluster. */
    private static long parallel(List<Path> files, Path dir) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        long start = System.nanoTime();
        List<Future<long[]>> all = new ArrayList<>();
        for (String c : List.of("p1", "p2", "p3", "p4")) all.add(pool.submit(() -> push(files, f -> pgwardenCurl(dir, c, f))));
        for (Future<long[]> f : all) f.get();
        pool.shutdown();
        return System.nanoTime() - start;
    }

    /** With PGWARDEN_JAVA_OPTS=-XX:NativeMemoryTracking=summary, saves where the daemon's memory went. */
    static void nativeMemorySummary(long pid, String name) throws Exception {
        if (!String.valueOf(System.getenv("PGWARDEN_JAVA_OPTS")).contains("NativeMemoryTracking")) return;
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        var r = Processes.run(List.of(jcmd.toString(), Long.toString(pid), "VM.native_memory", "summary"), null);
        Files.createDirectories(Path.of("target/bench"));
        Files.writeString(Path.of("target/bench/" + name + "-nmt.txt"), r.stdout() + r.stderr());
        // With -XX:CompileCommand=MemStat,*.*: which JIT compilations took the most native memory.
        var compiles = Processes.run(List.of(jcmd.toString(), Long.toString(pid), "Compiler.memory"), null);
        Files.writeString(Path.of("target/bench/" + name + "-compiler-memory.txt"), compiles.stdout() + compiles.stderr());
        Files.copy(Path.of("/proc/" + pid + "/smaps"), Path.of("target/bench/" + name + "-smaps.txt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** A process's peak resident memory (VmHWM), in KiB. */
    static long peakRssKb(long pid) throws java.io.IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("VmHWM:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(-1);
    }

    private static void report(Path dir, List<Path> segments, long[] pgwarden, long[] direct, long parallelNanos, long rssKb) throws Exception {
        double pgwardenRate = segments.size() / (Arrays.stream(pgwarden).sum() / 1e9);
        double directRate = segments.size() / (Arrays.stream(direct).sum() / 1e9);
        String text = """
                WAL push benchmark: %d pgbench segments of 16 MiB, sequential curl, S3Proxy (in-memory store) on loopback, compression %s
                                      segments/s   p50 ms   p99 ms
                  pgwarden (zstd)     %9.1f  %7.1f  %7.1f
                  direct PUT (raw)    %9.1f  %7.1f  %7.1f
                  ratio pgwarden/direct: %.2fx
                4 pushers in flight: %.1f segments/s; daemon peak RSS (VmHWM): %d MiB
                """.formatted(segments.size(), System.getProperty("bench.compression", "zstd"), pgwardenRate, pct(pgwarden, 50), pct(pgwarden, 99),
                directRate, pct(direct, 50), pct(direct, 99), pgwardenRate / directRate,
                4 * segments.size() / (parallelNanos / 1e9), rssKb / 1024);
        System.out.println(text);
        Path out = Path.of("target/bench");
        Files.createDirectories(out);
        Files.writeString(out.resolve("wal-push.txt"), text);
    }

    /** The p-th percentile of the timings, in milliseconds. */
    static double pct(long[] nanos, int p) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, (int) Math.ceil(p / 100.0 * s.length) - 1)] / 1e6;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
