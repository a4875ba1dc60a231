package io.pgwarden.it.bench;

import io.pgwarden.it.support.Launcher;
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
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: the repository at a million WAL objects on S3 (S3Proxy on loopback). One daemon, two clusters in one
 * bucket: 'full' holds a million objects (synthetic names after the real ones, small bodies, the metadata of a real
 * object: written straight into S3Proxy's store, since a million PUTs would take most of an hour), 'empty' holds only
 * what the pushes write. Reported, in one run: a push to each (interleaved), and the time and peak RSS of `list` and
 * `prune --dry-run` of 'full' as an operator runs them (bin/pgwarden). Report: it-tests/target/bench/million-objects.txt
 * Run: ./mvnw -B verify -Pbench -Dtest=MillionObjectsBenchmark -Dsurefire.failIfNoSpecifiedTests=false [-Dbench.objects=N]
 * [-Dbench.list=false] [-Dbench.s3.dir=DIR: a million objects need S3Proxy's store on disk; in memory it runs out past about
 * 400,000 small objects]
 */
@Tag("benchmark")
class MillionObjectsBenchmark {
    private static final int OBJECTS = Integer.getInteger("bench.objects", 1_000_000);
    private static final int PUSHES = 20;
    /**
     * S3Proxy's in-memory store answers each page of a listing in time that grows with the bucket (a listing of 100,000
     * keys takes it over a minute, a million would take hours): -Dbench.list=false measures the rest at a million.
     */
    private static final boolean LIST = Boolean.parseBoolean(System.getProperty("bench.list", "true"));
    private static final String TOKEN = "bench-token-0123456789abcdef";
    private static final String BUCKET = "million";
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void listPruneAndPushAtAMillionObjects() throws Exception {
        Path dir = TestDirs.create("pgwarden-bench-million-");
        List<Path> segments = WalPushBenchmark.pgbenchSegments(dir).subList(0, PUSHES + 1);
        try (S3Server s3 = new S3Server().start()) {
            s3.createBucket(BUCKET);
            int port = TestDirs.freePort();
            Path config = dir.resolve("bench.yml");
            Files.writeString(config, "server: {listen: \"127.0.0.1:" + port + "\"}\n" + s3.repositoryYaml(BUCKET, "pgwarden")
                    + "clusters:\n  full: {walToken: " + TOKEN + "-full, retention: {base: {keepLast: 2}}}\n  empty: {walToken: " + TOKEN + "-empty}\n");
            Process daemon = Launcher.startDaemon(config, Path.of("target/bench/million-daemon.log").toAbsolutePath(), port);
            try {
                push(port, "full", segments.get(0));
                push(port, "empty", segments.get(0));
                long fillStart = System.nanoTime();
                fill(s3, segments.get(0).getFileName().toString());
                double fillSeconds = (System.nanoTime() - fillStart) / 1e9;

                long[] full = new long[PUSHES];
                long[] empty = new long[PUSHES];
                for (int i = 0; i < PUSHES; i++) {
                    full[i] = push(port, "full", segments.get(i + 1));
                    empty[i] = push(port, "empty", segments.get(i + 1));
                }
                long rawStart = System.nanoTime();
                long listed = LIST ? rawListing(s3) : 0;
                long rawList = System.nanoTime() - rawStart;
                long[] list = LIST ? timed("list", "--config", config.toString(), "--cluster", "full") : new long[] {0, 0};
                long[] prune = timed("prune", "--config", config.toString(), "--cluster", "full", "--dry-run");
                report(fillSeconds, full, empty, rawList, listed, list, prune, WalPushBenchmark.peakRssKb(daemon.pid()));
            } finally {
                daemon.destroy();
                daemon.waitFor();
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    /** A million objects after the pushed segment's key, with its metadata and a 100-byte body each. */
    private static void fill(S3Server s3, String first) {
        String key;
        Map<String, String> metadata;
        try (var client = s3.client()) {
            key = client.listObjectsV2(b -> b.bucket(BUCKET).prefix("pgwarden/full/wal/")).contents().getFirst().key();
            metadata = client.headObject(b -> b.bucket(BUCKET).key(key)).metadata();
        }
        String directory = key.substring(0, key.lastIndexOf('/') + 1);
        String suffix = key.substring(key.lastIndexOf('/') + 1 + first.length());
        byte[] body = new byte[100];
        // Segment numbers from 2^32 on, far after pgbench's: in a timeline, names sort by segment number.
        long start = 1L << 32;
        for (long n = start; n < start + OBJECTS; n++) {
            String name = "00000001%08X%08X".formatted(n / 256, n % 256);
            s3.putInStore(BUCKET, directory + name + suffix, body, metadata);
        }
    }

    /** The baseline: the same listing with the AWS SDK's paginator, nothing else done per key. */
    private static long rawListing(S3Server s3) {
        try (var client = s3.client()) {
            return client.listObjectsV2Paginator(b -> b.bucket(BUCKET).prefix("pgwarden/full/wal/")).contents().stream().count();
        }
    }

    private long push(int port, String cluster, Path file) throws Exception {
        long start = System.nanoTime();
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/" + cluster + "/wal/"
                + file.getFileName())).header("Authorization", "Bearer " + TOKEN + "-" + cluster).PUT(HttpRequest.BodyPublishers.ofFile(file)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) throw new IllegalStateException(cluster + " " + file.getFileName() + ": " + r.statusCode() + " " + r.body());
        return System.nanoTime() - start;
    }

    /** Runs bin/pgwarden under GNU time; returns {nanoseconds, peak RSS in KiB}. */
    private static long[] timed(String... args) {
        List<String> command = new ArrayList<>(List.of("/usr/bin/time", "-f", "maxrss=%M", Launcher.executable().toString()));
        command.addAll(List.of(args));
        long start = System.nanoTime();
        Processes.Result r = Processes.run(command, null);
        long nanos = System.nanoTime() - start;
        if (r.exitCode() != 0) throw new IllegalStateException(String.join(" ", args) + ": exit " + r.exitCode() + "\n" + r.stderr());
        String rss = r.stderr().lines().filter(l -> l.startsWith("maxrss=")).findFirst().orElseThrow();
        return new long[] {nanos, Long.parseLong(rss.substring("maxrss=".length()))};
    }

    private static void report(double fillSeconds, long[] full, long[] empty, long rawList, long listed, long[] list, long[] prune,
                               long daemonRssKb) throws Exception {
        double fullMean = Arrays.stream(full).average().orElse(0) / 1e6;
        double emptyMean = Arrays.stream(empty).average().orElse(0) / 1e6;
        String text = """
                A million objects: %,d WAL objects in one cluster on S3Proxy (%s, on loopback), filled in %.0f s; one run
                  push of a 16 MiB segment (%d, interleaved)   mean ms   p50 ms   p99 ms
                    to the cluster of %,d objects          %7.1f  %7.1f  %7.1f
                    to an empty cluster                     %7.1f  %7.1f  %7.1f
                    ratio full / empty: %.2fx (the issue asks for at most 1.2x)
                %s
                  pgwarden prune --dry-run:   %6.1f s, peak RSS %d MB
                  daemon peak RSS (VmHWM) over the run: %d MB
                """.formatted(OBJECTS, System.getProperty("bench.s3.dir") == null ? "in memory" : "on disk", fillSeconds, PUSHES, OBJECTS, fullMean,
                WalPushBenchmark.pct(full, 50), WalPushBenchmark.pct(full, 99), emptyMean,
                WalPushBenchmark.pct(empty, 50), WalPushBenchmark.pct(empty, 99), fullMean / emptyMean, !LIST ? "  listing: not run (-Dbench.list=false)"
                : "  listing the %,d keys with the SDK's paginator (baseline): %.1f s%n  pgwarden list: %.1f s (%.2fx the baseline), peak RSS %d MB"
                .formatted(listed, rawList / 1e9, list[0] / 1e9, list[0] / (double) rawList, list[1] / 1024), prune[0] / 1e9,
                prune[1] / 1024, daemonRssKb / 1024);
        System.out.println(text);
        Path out = Path.of("target/bench");
        Files.createDirectories(out);
        Files.writeString(out.resolve("million-objects.txt"), text);
    }
}
