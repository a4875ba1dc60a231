package io.pgwarden.it.bench;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.TestDirs;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: the cost of a push and of a 404 fetch with 500,000 WAL files archived in the timeline, against an
 * empty repository, in the same run, through the real daemon process at the launcher's 128 MiB heap. The large
 * archive is a filesystem repository filled directly (object plus metadata file, as the driver writes them: a
 * million files in a minute or two; through S3Proxy it would take far longer, and ConstantCostLookupsTest shows the
 * same lookups on S3 list nothing). Report: it-tests/target/bench/large-archive.txt
 * Run: ./mvnw -B verify -Pbench -Dtest=LargeArchiveBenchmark -Dsurefire.failIfNoSpecifiedTests=false
 */
@Tag("benchmark")
class LargeArchiveBenchmark {
    private static final int ARCHIVED = Integer.getInteger("bench.archived", 500_000);
    private static final int PUSHES = 20;
    private static final int MISSES = 500;
    private static final String TOKEN = "bench-token-0123456789abcdef";
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void pushAndMissCostAtHalfAMillionArchivedFiles() throws Exception {
        Path dir = TestDirs.create("pgwarden-bench-large-");
        try {
            List<Path> segments = WalPushBenchmark.pgbenchSegments(dir).subList(0, PUSHES);
            long[][] empty = measure(dir.resolve("empty"), segments, false);
            Path large = dir.resolve("large");
            long fillStart = System.nanoTime();
            fill(large.resolve("repo/main/wal/00000001"), ARCHIVED);
            // Written back before measuring: else the first directory fsyncs of the pushes pay for the whole fill.
            io.pgwarden.it.support.Processes.checked(io.pgwarden.it.support.Processes.run(List.of("sync"), null), "sync");
            double fillSeconds = (System.nanoTime() - fillStart) / 1e9;
            long[][] full = measure(large, segments, true);
            report(empty, full, fillSeconds);
        } finally {
            TestDirs.delete(dir);
        }
    }

    /** Pushes the segments, then fetches names never archived; returns {push nanos, miss nanos, {peak RSS kB}}. */
    private long[][] measure(Path dir, List<Path> segments, boolean archived) throws Exception {
        Files.createDirectories(dir);
        int port = TestDirs.freePort();
        Path config = dir.resolve("pgwarden.yml");
        Files.writeString(config, "server: {listen: \"127.0.0.1:" + port + "\"}\nrepository: {type: filesystem, path: " + dir.resolve("repo")
                + "}\nclusters:\n  main: {walToken: " + TOKEN + "}\n");
        Process daemon = Launcher.start(dir.resolve("daemon.log"), "run", "--config", config.toString());
        try {
            awaitReady(port);
            awaitStartupListingDone(port, archived);
            long[] pushes = new long[segments.size()];
            for (int i = 0; i < segments.size(); i++) {
                byte[] body = Files.readAllBytes(segments.get(i));
                long t0 = System.nanoTime();
                var r = http.send(request(port, segments.get(i).getFileName().toString()).PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                        HttpResponse.BodyHandlers.ofString());
                pushes[i] = System.nanoTime() - t0;
                if (r.statusCode() != 201) throw new IllegalStateException("push answered " + r.statusCode() + ": " + r.body());
            }
            long[] misses = new long[MISSES];
            for (int i = 0; i < MISSES; i++) {
                long t0 = System.nanoTime();
                var r = http.send(request(port, "00000001%08X%08X".formatted(0x7000 + i, 0)).GET().build(), HttpResponse.BodyHandlers.discarding());
                misses[i] = System.nanoTime() - t0;
                if (r.statusCode() != 404) throw new IllegalStateException("a missing file answered " + r.statusCode());
            }
            return new long[][] {pushes, misses, {WalPushBenchmark.peakRssKb(daemon.pid())}};
        } finally {
            daemon.destroy();
            daemon.waitFor();
        }
    }

    /** Objects as FilesystemStorage writes them (the object, then its hidden metadata file), far from the pushed names. */
    private static void fill(Path timeline, int count) throws IOException {
        Files.createDirectories(timeline);
        byte[] meta = "{\"sha256\":\"00\",\"raw-size\":\"16777216\",\"codec\":\"zstd\"}".getBytes(StandardCharsets.UTF_8);
        byte[] object = {0};
        for (int i = 0; i < count; i++) {
            String name = "00000001%08X%08X.zst".formatted(0x100 + i / 256, i % 256);
            Files.write(timeline.resolve("." + name + ".meta"), meta);
            Files.write(timeline.resolve(name), object);
        }
    }

    private HttpRequest.Builder request(int port, String file) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/wal/" + file)).header("Authorization", "Bearer " + TOKEN);
    }

    private void awaitReady(int port) throws Exception {
        for (int i = 0; i < 300; i++) {
            try {
                if (http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ready")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return;
            } catch (IOException notYet) {
                // starting
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("daemon did not become ready");
    }

    /**
     * At start the daemon measures the repository's size with one listing in the background; pushes are measured once
     * it is over (its cost is the start's, reported as the time to settle), not beside it. Over when the WAL size shows.
     */
    private void awaitStartupListingDone(int port, boolean archived) throws Exception {
        long t0 = System.nanoTime();
        while (archived) {
            String scrape = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            if (scrape.lines().anyMatch(l -> l.startsWith("pgwarden_repository_size_bytes{cluster=\"main\",kind=\"wal\"}") && !l.endsWith(" 0.0"))) break;
            Thread.sleep(500);
        }
        System.out.printf("daemon settled %.1f s after ready%n", (System.nanoTime() - t0) / 1e9);
    }

    private static void report(long[][] empty, long[][] full, double fillSeconds) throws IOException {
        String text = """
                Large archive benchmark: push of %d pgbench segments (16 MiB) and %d fetches of missing files, filesystem repository,
                daemon process with the launcher's 128 MiB heap; the large repository holds %,d WAL files in the timeline (filled in %.0f s)
                                          empty repo   %,d files   ratio
                  push p50 ms             %9.1f   %9.1f   %5.2fx
                  push p90 ms             %9.1f   %9.1f   %5.2fx
                  404 fetch p50 ms        %9.2f   %9.2f   %5.2fx
                  404 fetch p90 ms        %9.2f   %9.2f   %5.2fx
                  daemon peak RSS MiB     %9d   %9d
                """.formatted(PUSHES, MISSES, ARCHIVED, fillSeconds, ARCHIVED,
                WalPushBenchmark.pct(empty[0], 50), WalPushBenchmark.pct(full[0], 50), WalPushBenchmark.pct(full[0], 50) / WalPushBenchmark.pct(empty[0], 50),
                WalPushBenchmark.pct(empty[0], 90), WalPushBenchmark.pct(full[0], 90), WalPushBenchmark.pct(full[0], 90) / WalPushBenchmark.pct(empty[0], 90),
                WalPushBenchmark.pct(empty[1], 50), WalPushBenchmark.pct(full[1], 50), WalPushBenchmark.pct(full[1], 50) / WalPushBenchmark.pct(empty[1], 50),
                WalPushBenchmark.pct(empty[1], 90), WalPushBenchmark.pct(full[1], 90), WalPushBenchmark.pct(full[1], 90) / WalPushBenchmark.pct(empty[1], 90),
                empty[2][0] / 1024, full[2][0] / 1024);
        System.out.println(text);
        Path out = Path.of("target/bench");
        Files.createDirectories(out);
        Files.writeString(out.resolve("large-archive.txt"), text);
    }
}
