package io.pgwarden.it.bench;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: one daemon archiving for 20 clusters at once, each pushing as PostgreSQL's archiver does (one segment at
 * a time, the next when the last was answered), against one cluster alone, in the same run, on S3Proxy on loopback.
 * The clusters are distinct systems: real pgbench segments replayed with the system identifier in their first page
 * header rewritten per cluster (the daemon checks it against the cluster's). Reports the aggregate segments/s and MiB/s
 * (against the 20 MB/s of total WAL), p50/p99 push latency, the slowest cluster's share, and the daemon's peak
 * RSS. Report: it-tests/target/bench/many-clusters.txt
 * Run: ./mvnw -B verify -Pbench -Dtest=ManyClustersBenchmark -Dsurefire.failIfNoSpecifiedTests=false
 */
@Tag("benchmark")
class ManyClustersBenchmark {
    private static final int CLUSTERS = Integer.getInteger("bench.clusters", 20);
    private static final int PER_CLUSTER = Integer.getInteger("bench.perCluster", 10);
    private static final int SOLO = 40;
    private static final String TOKEN = "bench-token-0123456789abcdef";
    /** Where XLogLongPageHeaderData keeps xlp_sysid: after magic, info, tli, pageaddr, rem_len and padding. */
    private static final int SYSID_OFFSET = 24;
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void twentyClustersPushingAtOnce() throws Exception {
        Path dir = TestDirs.create("pgwarden-bench-many-");
        List<Path> segments = WalPushBenchmark.pgbenchSegments(dir);
        try (S3Server s3 = new S3Server().start()) {
            s3.createBucket("bench");
            int port = TestDirs.freePort();
            Path config = dir.resolve("bench.yml");
            StringBuilder clusters = new StringBuilder();
            for (String c : names()) clusters.append("  ").append(c).append(": {walToken: ").append(TOKEN).append("-").append(c).append("}\n");
            Files.writeString(config, "server: {listen: \"127.0.0.1:" + port + "\"}\n" + s3.repositoryYaml("bench", "pgwarden") + "clusters:\n" + clusters);
            Process daemon = Launcher.startDaemon(config, Path.of("target/bench/many-clusters-daemon.log").toAbsolutePath(), port);
            try {
                pushSerially(port, "warm", 0, segments.subList(0, 5));
                long soloStart = System.nanoTime();
                long[] solo = pushSerially(port, "solo", 1, segments.subList(0, Math.min(SOLO, segments.size())));
                double soloSeconds = (System.nanoTime() - soloStart) / 1e9;

                long manyStart = System.nanoTime();
                List<long[]> perCluster = new ArrayList<>();
                try (ExecutorService pool = Executors.newFixedThreadPool(CLUSTERS)) {
                    List<Future<long[]>> runs = new ArrayList<>();
                    for (int i = 0; i < CLUSTERS; i++) {
                        int c = i;
                        // Each cluster replays a different stretch of the segments, as distinct systems would.
                        List<Path> own = IntStream.range(0, PER_CLUSTER).mapToObj(k -> segments.get((c * 3 + k) % segments.size())).toList();
                        runs.add(pool.submit(() -> pushSerially(port, cluster(c), 2 + c, own)));
                    }
                    for (Future<long[]> f : runs) perCluster.add(f.get());
                }
                double manySeconds = (System.nanoTime() - manyStart) / 1e9;
                WalPushBenchmark.nativeMemorySummary(daemon.pid(), "many-clusters");
                report(segments.get(0), solo, soloSeconds, perCluster, manySeconds, WalPushBenchmark.peakRssKb(daemon.pid()));
            } finally {
                daemon.destroy();
                daemon.waitFor();
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    private static List<String> names() {
        List<String> names = new ArrayList<>(List.of("warm", "solo"));
        for (int i = 0; i < CLUSTERS; i++) names.add(cluster(i));
        return names;
    }

    private static String cluster(int i) {
        return "c%02d".formatted(i + 1);
    }

    /** Pushes one file after the other, as the archiver does; returns each push's nanoseconds. */
    private long[] pushSerially(int port, String cluster, long system, List<Path> files) throws Exception {
        long[] nanos = new long[files.size()];
        for (int i = 0; i < files.size(); i++) {
            Path file = files.get(i);
            long start = System.nanoTime();
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/" + cluster + "/wal/"
                    + file.getFileName())).header("Authorization", "Bearer " + TOKEN + "-" + cluster)
                    .PUT(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(() -> withSystem(file, system)),
                            Files.size(file))).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() / 100 != 2) throw new IllegalStateException(cluster + " " + file.getFileName() + ": " + r.statusCode() + " " + r.body());
            nanos[i] = System.nanoTime() - start;
        }
        return nanos;
    }

    /** The segment as another system wrote it: its long page header names system {@code 7e18 + n}; streamed, not held. */
    private static InputStream withSystem(Path file, long n) {
        try {
            InputStream in = Files.newInputStream(file);
            byte[] head = in.readNBytes(SYSID_OFFSET + 8);
            ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).putLong(SYSID_OFFSET, 7_000_000_000_000_000_000L + n);
            return new SequenceInputStream(new ByteArrayInputStream(head), in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void report(Path sample, long[] solo, double soloSeconds, List<long[]> perCluster, double manySeconds, long rssKb)
            throws IOException {
        double mib = Files.size(sample) / (1024.0 * 1024.0);
        long[] all = perCluster.stream().flatMapToLong(Arrays::stream).toArray();
        double soloRate = solo.length / soloSeconds;
        double manyRate = all.length / manySeconds;
        double slowest = perCluster.stream().mapToDouble(t -> t.length / (Arrays.stream(t).sum() / 1e9)).min().orElse(0);
        double fastest = perCluster.stream().mapToDouble(t -> t.length / (Arrays.stream(t).sum() / 1e9)).max().orElse(0);
        String text = """
                Many clusters on one daemon: %d clusters (distinct system identifiers) each pushing %d segments of %.0f MiB one at a time,
                all at once, against one cluster alone (%d segments), S3Proxy on loopback, zstd, one run
                                           segments/s   MiB/s    p50 ms   p99 ms
                  one cluster alone        %9.1f  %7.1f  %7.1f  %7.1f
                  %2d clusters at once      %9.1f  %7.1f  %7.1f  %7.1f
                  aggregate / alone: %.2fx; slowest cluster %.2f segments/s, fastest %.2f (ratio %.2f)
                  total WAL rate kept up with: %.0f MiB/s (the issue asks for 20 MB/s); daemon peak RSS (VmHWM): %d MiB
                """.formatted(CLUSTERS, PER_CLUSTER, mib, solo.length, soloRate, soloRate * mib, WalPushBenchmark.pct(solo, 50),
                WalPushBenchmark.pct(solo, 99), CLUSTERS, manyRate, manyRate * mib, WalPushBenchmark.pct(all, 50), WalPushBenchmark.pct(all, 99),
                manyRate / soloRate, slowest, fastest, slowest / fastest, manyRate * mib, rssKb / 1024);
        System.out.println(text);
        Path out = Path.of("target/bench");
        Files.createDirectories(out);
        Files.writeString(out.resolve("many-clusters.txt"), text);
    }
}
