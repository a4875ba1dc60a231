package io.pgwarden.it.bench;

import io.pgwarden.config.ConfigLoader;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.it.support.Launcher;
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
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.RunIds;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: the repository at a million WAL objects, on S3 (S3Proxy on loopback) or, with
 * {@code -Dbench.repository=filesystem}, on pgwarden's filesystem repository (one directory per timeline: a million
 * files and their metadata files in one directory). One daemon, two clusters: 'full' holds a million objects (synthetic
 * names after the real ones, small bodies, the metadata of a real object: written straight into the store, since a
 * million PUTs would take most of an hour) and two base backups after them (manifests only), so that retention plans to
 * delete every one of those objects; 'empty' holds only what the pushes write. Reported, in one run: a push to each
 * (interleaved), and the time and peak RSS of `list` and `prune --dry-run` of 'full' as an operator runs them
 * (bin/pgwarden). Report: it-tests/target/bench/million-objects[-filesystem].txt
 * Run: ./mvnw -B verify -Pbench -Dtest=MillionObjectsBenchmark -Dsurefire.failIfNoSpecifiedTests=false [-Dbench.objects=N]
 * [-Dbench.repository=filesystem] [-Dbench.list=false] [-Dbench.s3.dir=DIR: a million objects need S3Proxy's store on
 * disk; in memory it runs out past about 400,000 small objects]
 */
@Tag("benchmark")
class MillionObjectsBenchmark {
    private static final int OBJECTS = Integer.getInteger("bench.objects", 1_000_000);
    private static final boolean FILESYSTEM = "filesystem".equals(System.getProperty("bench.repository", "s3"));
    private static final int PUSHES = 20;
    /**
     * S3Proxy answers each page of a listing in time that grows with the bucket (a listing of 100,000 keys takes it over
     * a minute, a million would take hours): -Dbench.list=false measures the rest at a million. Retention's plan lists
     * the WAL it deletes: without a listing, no base backups are written and the plan deletes nothing.
     */
    private static final boolean LIST = Boolean.parseBoolean(System.getProperty("bench.list", "true"));
    private static final String TOKEN = "bench-token-0123456789abcdef";
    private static final String BUCKET = "million";
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void listPruneAndPushAtAMillionObjects() throws Exception {
        Path dir = TestDirs.create("pgwarden-bench-million-");
        List<Path> segments = WalPushBenchmark.pgbenchSegments(dir).subList(0, PUSHES + 1);
        try (S3Server s3 = FILESYSTEM ? null : new S3Server().start()) {
            if (s3 != null) s3.createBucket(BUCKET);
            int port = TestDirs.freePort();
            Path config = dir.resolve("bench.yml");
            Path repo = dir.resolve("repo");
            Files.writeString(config, "server: {listen: \"127.0.0.1:" + port + "\"}\n"
                    + (FILESYSTEM ? PgwardenFixture.filesystemRepositoryYaml(repo) : s3.repositoryYaml(BUCKET, "pgwarden"))
                    + "clusters:\n  full: {walToken: " + TOKEN + "-full, retention: {base: {keepLast: 2}}}\n  empty: {walToken: " + TOKEN + "-empty}\n");
            Process daemon = Launcher.startDaemon(config, Path.of("target/bench/million-daemon.log").toAbsolutePath(), port);
            try {
                push(port, "full", segments.get(0));
                push(port, "empty", segments.get(0));
                long fillStart = System.nanoTime();
                String first = segments.get(0).getFileName().toString();
                if (FILESYSTEM) fill(repo, first);
                else fill(s3, first);
                double fillSeconds = (System.nanoTime() - fillStart) / 1e9;
                if (LIST) writeBackupsAfterTheFill(ConfigLoader.load(config));

                long[] full = new long[PUSHES];
                long[] empty = new long[PUSHES];
                for (int i = 0; i < PUSHES; i++) {
                    full[i] = push(port, "full", segments.get(i + 1));
                    empty[i] = push(port, "empty", segments.get(i + 1));
                }
                long rawStart = System.nanoTime();
                long listed = LIST ? (FILESYSTEM ? rawListing(repo) : rawListing(s3)) : 0;
                long rawList = System.nanoTime() - rawStart;
                Timed list = LIST ? timed("list", "--config", config.toString(), "--cluster", "full") : Timed.NOT_RUN;
                Timed prune = timed("prune", "--config", config.toString(), "--cluster", "full", "--dry-run");
                // The daemon's scheduled retention plans the same with the daemon's heap, which ends the daemon if exceeded.
                Timed daemonHeap = timed(Map.of("PGWARDEN_JAVA_OPTS", "-Xmx128m -XX:+ExitOnOutOfMemoryError"), "prune", "--config",
                        config.toString(), "--cluster", "full", "--dry-run");
                report(fillSeconds, full, empty, rawList, listed, list, prune, daemonHeap, WalPushBenchmark.peakRssKb(daemon.pid()));
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
        for (String name : (Iterable<String>) syntheticNames()::iterator) s3.putInStore(BUCKET, directory + name + suffix, body, metadata);
    }

    /** The same on the filesystem repository: each object a file, its metadata a copy of the real object's .meta file. */
    private static void fill(Path repo, String first) throws Exception {
        Path real;
        try (var found = Files.walk(repo.resolve("full/wal"))) {
            real = found.filter(p -> p.getFileName().toString().startsWith(first)).findFirst().orElseThrow();
        }
        byte[] metadata = Files.readAllBytes(real.resolveSibling("." + real.getFileName() + ".meta"));
        String suffix = real.getFileName().toString().substring(first.length());
        byte[] body = new byte[100];
        for (String name : (Iterable<String>) syntheticNames()::iterator) {
            Files.write(real.resolveSibling(name + suffix), body);
            Files.write(real.resolveSibling("." + name + suffix + ".meta"), metadata);
        }
    }

    /** Segment numbers from 2^32 on, far after pgbench's: in a timeline, names sort by segment number. */
    private static java.util.stream.Stream<String> syntheticNames() {
        long start = 1L << 32;
        return java.util.stream.LongStream.range(start, start + OBJECTS).mapToObj(MillionObjectsBenchmark::walName);
    }

    private static String walName(long segment) {
        return "00000001%08X%08X".formatted(segment / 256, segment % 256);
    }

    /**
     * Two base backups (their manifests: retention reads nothing else) starting after the synthetic WAL: keeping the
     * last two, retention deletes every WAL object before the older one's start, all million of them.
     */
    private static void writeBackupsAfterTheFill(PgwardenConfig config) throws Exception {
        try (StorageDriver storage = StorageFactory.create(config.repository())) {
            Instant now = Instant.now();
            for (int i = 0; i < 2; i++) {
                Instant start = now.minusSeconds(3600 - 600L * i);
                String id = RunIds.next(start);
                String wal = walName((1L << 32) + OBJECTS + 100 + 10L * i);
                RepositoryJson.write(storage, RepositoryLayout.baseBackupManifest("full", id), new BaseBackupManifest(1, id, "full", "bench",
                        "0/0", "0/0", 1, wal, wal, null, start, start.plusSeconds(60), 150000, "1", "15", "full/base/" + id + "/base.tar.zst",
                        "zstd", 100, 40, "sha", null, null, null, null, null));
            }
        }
    }

    /** The baseline: the same listing with the AWS SDK's paginator, nothing else done per key. */
    private static long rawListing(S3Server s3) {
        try (var client = s3.client()) {
            return client.listObjectsV2Paginator(b -> b.bucket(BUCKET).prefix("pgwarden/full/wal/")).contents().stream().count();
        }
    }

    /** The baseline on a filesystem: `ls -f` of the timeline's directory (unsorted, every entry, metadata files too). */
    private static long rawListing(Path repo) {
        Processes.Result r = Processes.run(List.of("sh", "-c", "ls -f '" + repo.resolve("full/wal/00000001") + "' | wc -l"), null);
        return Long.parseLong(r.stdout().strip());
    }

    private long push(int port, String cluster, Path file) throws Exception {
        long start = System.nanoTime();
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/" + cluster + "/wal/"
                + file.getFileName())).header("Authorization", "Bearer " + TOKEN + "-" + cluster).PUT(HttpRequest.BodyPublishers.ofFile(file)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) throw new IllegalStateException(cluster + " " + file.getFileName() + ": " + r.statusCode() + " " + r.body());
        return System.nanoTime() - start;
    }

    /** One command's wall time, peak RSS and output. */
    private record Timed(long nanos, long rssKb, String stdout) {
        static final Timed NOT_RUN = new Timed(0, 0, "");
    }

    /** Runs bin/pgwarden under GNU time. */
    private static Timed timed(String... args) {
        return timed(Map.of(), args);
    }

    /** A failure is reported, not thrown: running out of memory is one of the outcomes measured. */
    private static Timed timed(Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>(List.of("/usr/bin/time", "-f", "maxrss=%M", Launcher.executable().toString()));
        command.addAll(List.of(args));
        long start = System.nanoTime();
        Processes.Result r = Processes.run(command, null, env);
        long nanos = System.nanoTime() - start;
        if (r.exitCode() != 0) {
            String failure = "FAILED, exit " + r.exitCode() + ": " + r.stderr().lines().filter(l -> !l.startsWith("maxrss=") && !l.startsWith("Command exited"))
                    .reduce((a, b) -> b).orElse("");
            if (env.isEmpty()) throw new IllegalStateException(String.join(" ", args) + ": " + failure + "\n" + r.stderr());
            return new Timed(nanos, 0, failure);
        }
        String rss = r.stderr().lines().filter(l -> l.startsWith("maxrss=")).findFirst().orElseThrow();
        return new Timed(nanos, Long.parseLong(rss.substring("maxrss=".length())), r.stdout());
    }

    private static void report(double fillSeconds, long[] full, long[] empty, long rawList, long listed, Timed list, Timed prune,
                               Timed daemonHeap, long daemonRssKb) throws Exception {
        double fullMean = Arrays.stream(full).average().orElse(0) / 1e6;
        double emptyMean = Arrays.stream(empty).average().orElse(0) / 1e6;
        String where = FILESYSTEM ? "pgwarden's filesystem repository" : "S3Proxy (" + (System.getProperty("bench.s3.dir") == null ? "in memory"
                : "on disk") + ", on loopback)";
        String walPlanned = prune.stdout().lines().filter(l -> l.strip().startsWith("wal ")).findFirst().map(String::strip)
                .orElse("no WAL to delete");
        String text = """
                A million objects: %,d WAL objects in one cluster on %s, filled in %.0f s; one run
                  push of a 16 MiB segment (%d, interleaved)   mean ms   p50 ms   p99 ms
                    to the cluster of %,d objects          %7.1f  %7.1f  %7.1f
                    to an empty cluster                     %7.1f  %7.1f  %7.1f
                    ratio full / empty: %.2fx (the issue asks for at most 1.2x)
                %s
                  pgwarden prune --dry-run:   %6.1f s, peak RSS %d MiB; planned: %s
                  the same with the daemon's heap (-Xmx128m): %s
                  daemon peak RSS (VmHWM) over the run: %d MiB
                """.formatted(OBJECTS, where, fillSeconds, PUSHES, OBJECTS, fullMean,
                WalPushBenchmark.pct(full, 50), WalPushBenchmark.pct(full, 99), emptyMean,
                WalPushBenchmark.pct(empty, 50), WalPushBenchmark.pct(empty, 99), fullMean / emptyMean, !LIST ? "  listing: not run (-Dbench.list=false)"
                : "  listing the %,d %s (baseline): %.1f s%n  pgwarden list: %.1f s (%.2fx the baseline), peak RSS %d MiB"
                .formatted(listed, FILESYSTEM ? "entries with ls -f" : "keys with the SDK's paginator", rawList / 1e9, list.nanos() / 1e9,
                        list.nanos() / (double) rawList, list.rssKb() / 1024), prune.nanos() / 1e9, prune.rssKb() / 1024, walPlanned,
                daemonHeap.stdout().startsWith("FAILED") ? daemonHeap.stdout() : "%.1f s, peak RSS %d MiB".formatted(daemonHeap.nanos() / 1e9,
                daemonHeap.rssKb() / 1024), daemonRssKb / 1024);
        System.out.println(text);
        Path out = Path.of("target/bench");
        Files.createDirectories(out);
        Files.writeString(out.resolve(FILESYSTEM ? "million-objects-filesystem.txt" : "million-objects.txt"), text);
    }
}
