package io.pgwarden.it.bench;

import io.pgwarden.it.support.Certificates;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: the WAL paths side by side with pgBackRest, in one run, on one S3Proxy (HTTPS, in memory) and one
 * cluster's real WAL (pgbench, 16 MiB segments). Each tool is called the way PostgreSQL calls it, one file at a time:
 * archive_command for pushes (pgwarden: curl PUT to the daemon; pgBackRest: archive-push, synchronous and with
 * archive-async=y process-max=2, which pushes the other .ready files ahead), restore_command for fetches (pgwarden:
 * curl GET; pgBackRest archive-get, synchronous and asynchronous, which prefetches). Baselines: curl PUT straight to
 * S3Proxy (uncompressed) and cp. Both tools compress with zstd level 1. The fetches run twice: on S3Proxy as it is
 * (loopback: no latency to hide), then with its GETs slowed as a distant S3's are, where read-ahead is meant to pay.
 * Run: cd it-tests && ../mvnw -B verify -Pbench -Dtest=WalSideBySideBenchmark -Dsurefire.failIfNoSpecifiedTests=false
 * (needs Debian's pgbackrest); report in it-tests/target/bench/wal-side-by-side.txt. With -Dbench.link=1gbit (root), the
 * database host's side (daemon, pgBackRest, curl) runs in a network namespace behind a link of that rate to S3Proxy
 * ({@link Network}); report in wal-side-by-side-1gbit.txt.
 */
@Tag("benchmark")
class WalSideBySideBenchmark {
    private static final int SEGMENTS = Integer.getInteger("bench.segments", 100);
    /**
     * The distant S3 of the second fetch pass: by default RangedDownloadBenchmark's (time before a GET answers, one GET's
     * rate); -Dbench.distant.latencyMs=100 for another region's.
     */
    private static final long DISTANT_LATENCY_MS = Long.getLong("bench.distant.latencyMs", 25);
    private static final long DISTANT_BYTES_PER_SECOND = 80_000_000;
    private static final String TOKEN = "bench-token-0123456789abcdef";
    /** The daemons running, whose CPU time is reported apart. */
    private static final List<Process> daemons = new java.util.concurrent.CopyOnWriteArrayList<>();
    private Network net;
    /** The second daemon, with read-ahead off; started once the read-ahead daemon's first fetches are timed. */
    private Process plain;

    @Test
    void walPathsSideBySideWithPgBackRest() throws Exception {
        PgBackRest.requireInstalled();
        net = Network.fromProperty();
        Path dir = TestDirs.create("pgwarden-sbs-");
        Path cache = Path.of("target/bench/side-by-side").toAbsolutePath();
        Path archived = cache.resolve("wal");
        Process daemon = null;
        try (PgCluster pg = walAndItsCluster(dir, cache);
             S3Server s3 = new S3Server(); Network network = net) {
            pg.start();
            Certificates.Ca ca = s3.startBehindPrivateCa(dir, "bench-ca", net.s3Address());
            s3.createBucketInStore("bench");
            PgBackRest sync = new PgBackRest(dir, "br-sync", s3, "bench", "/pgbackrest-sync", pg).on(net);
            PgBackRest async = new PgBackRest(dir, "br-async", s3, "bench", "/pgbackrest-async", pg, "archive-async=y", "process-max=2").on(net);
            sync.createStanza();
            async.createStanza();
            pg.stop(); // from here on only the copied segments are read: nothing else competes for the cores

            List<Path> segments;
            try (var files = Files.list(archived)) {
                segments = files.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}")).sorted().limit(SEGMENTS).toList();
            }
            int port = TestDirs.freePort();
            daemon = startDaemon(dir, s3, ca.certificate(), port, 8);
            daemons.add(daemon);
            Path header = dir.resolve("auth-header");
            Files.writeString(header, "Authorization: Bearer " + TOKEN + "\n");
            Function<String, String> walUrl = cluster -> "http://" + net.dbHostAddress() + ":" + port + "/v1/clusters/" + cluster + "/wal/";
            // A daemon that has run for a while has compiled its hot paths; pgBackRest is native code. The first pushes
            // after start (reported as "cold") pay the JIT's compiling on the same two cores; then each path runs once more.
            Path warmupHeader = dir.resolve("auth-header-warmup");
            Files.writeString(warmupHeader, "Authorization: Bearer " + TOKEN + "-warmup\n");
            Timed coldPush = time(segments, f -> List.of("curl", "--fail", "-sS", "-o", "/dev/null", "-H",
                    "@" + warmupHeader, "-T", f.toString(), walUrl.apply("warmup") + f.getFileName()));
            time(segments, f -> List.of("curl", "--fail", "-sS", "-o", "/dev/null", "-H", "@" + warmupHeader,
                    walUrl.apply("warmup") + f.getFileName()));

            Timed rawPut = time(segments, f -> List.of("curl", "--fail", "-sS", "-o", "/dev/null", "--cacert", ca.certificate().toString(),
                    "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", S3Server.ACCESS_KEY + ":" + S3Server.SECRET_KEY,
                    "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", f.toString(), s3.endpoint() + "/bench/raw/" + f.getFileName()));
            Timed pgwardenPush = time(segments, f -> List.of("curl", "--fail", "-sS", "-o", "/dev/null", "-H", "@" + header, "-T",
                    f.toString(), walUrl.apply("bench") + f.getFileName()));
            // archive.durability: spool: acknowledged once fsynced locally; the upload backlog is drained in the background.
            Path spoolHeader = dir.resolve("auth-header-spool");
            Files.writeString(spoolHeader, "Authorization: Bearer " + TOKEN + "-spool\n");
            long spoolStart = System.nanoTime();
            MachineCpu.Sample spoolCpuStart = MachineCpu.sample(daemons);
            Timed spoolPush = time(segments, f -> List.of("curl", "--fail", "-sS", "-o", "/dev/null", "-H", "@" + spoolHeader, "-T",
                    f.toString(), walUrl.apply("spooled") + f.getFileName()));
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofMinutes(10)).pollInterval(java.time.Duration.ofMillis(50)).until(() ->
                    spoolFiles(port) == 0);
            long spoolDrained = System.nanoTime() - spoolStart;
            MachineCpu.PerFile spoolCpu = MachineCpu.sample(daemons).since(spoolCpuStart, segments.size());
            Timed syncPush = timeCalls(segments, f -> sync.run("archive-push", f.toString()));
            // Async pushes what PostgreSQL marked ready beside %p, which must lie in pg1-path: a data directory with
            // the cluster's pg_control and a pg_wal of the segments (hard links), each with its .ready file.
            Path asyncData = readyDataDirectory(dir, "async-data", pg.dataDir(), segments);
            Path pgWal = asyncData.resolve("pg_wal");
            Timed asyncPush = timeCalls(segments, f -> {
                Processes.Result r = async.run("--pg1-path=" + asyncData, "archive-push", pgWal.resolve(f.getFileName()).toString());
                markDone(pgWal, f);
                return r;
            });

            // bin/pgwarden-wal-push as archive_command: the next .ready files pushed ahead, two at a time, by its helper.
            Path aheadHeader = dir.resolve("auth-header-ahead");
            Files.writeString(aheadHeader, "Authorization: Bearer " + TOKEN + "-ahead\n");
            Path aheadData = readyDataDirectory(dir, "ahead-data", pg.dataDir(), segments);
            Timed aheadPush = timeCalls(segments, f -> {
                Processes.Result r = Processes.run(net.onDbHost(List.of(Launcher.walPushScript().toString(), "--url", walUrl.apply("ahead"),
                        "--header", aheadHeader.toString(), "--ahead", "2", "pg_wal/" + f.getFileName(), f.getFileName().toString())), aheadData);
                markDone(aheadData.resolve("pg_wal"), f);
                return r;
            });

            Path fetched = TestDirs.forPostgres(dir, "fetched");
            Timed cp = time(segments, f -> List.of("sh", "-c", "cp " + f + " " + fetched.resolve("x") + " && rm " + fetched.resolve("x")));
            // The same requests to a second daemon on the same repository, with read-ahead off. It starts after the
            // first timings with read-ahead, so that its start (JVM, JIT) is not counted in them.
            java.util.concurrent.Callable<String> startPlain = () -> {
                int plainPort = TestDirs.freePort();
                plain = startDaemon(dir, s3, ca.certificate(), plainPort, 0);
                daemons.add(plain);
                return "http://" + net.dbHostAddress() + ":" + plainPort + "/v1/clusters/bench/wal/";
            };
            Fetchers fetchers = new Fetchers(dir, header, walUrl.apply("bench"), startPlain, dir.resolve("pgwarden-" + port + ".yml"),
                    fetched, sync, async);
            Fetches near = fetchers.fetchAll(segments, "restored", true);
            // Where read-ahead is meant to pay: an S3 whose GETs wait before they answer and flow at one connection's
            // rate, as a distant region's do (the test server's latency injector: loopback has neither).
            s3.slowGets(java.time.Duration.ofMillis(DISTANT_LATENCY_MS), DISTANT_BYTES_PER_SECOND);
            Fetches distant = fetchers.fetchAll(segments, "restored-distant", false);
            s3.slowGets(java.time.Duration.ZERO, 0);

            report(net, segments, coldPush, rawPut, pgwardenPush, spoolPush, spoolDrained, spoolCpu, aheadPush, syncPush, asyncPush, cp, near, distant,
                    WalPushBenchmark.peakRssKb(daemon.pid()));
        } finally {
            daemons.clear();
            for (Process p : java.util.Arrays.asList(daemon, plain)) {
                if (p == null) continue;
                p.destroy();
                p.waitFor();
            }
            TestDirs.delete(dir);
        }
    }

    /**
     * The fetch paths, each called once per segment as PostgreSQL's startup process calls restore_command.
     * @param classArchive whether the launcher had a class archive to map when the standalone calls began
     */
    private record Fetches(Timed pgwardenGet, Timed pgwardenGetPlain, Timed standaloneGet, boolean classArchive, Timed standalonePlain,
                           Timed syncGet, Timed asyncGet) {
    }

    /** What fetches the segments back: curl to the daemons (read-ahead 8 and off), the standalone wal-fetch, pgBackRest. */
    private final class Fetchers {
        private final Path dir;
        private final Path header;
        private final String url;
        private final java.util.concurrent.Callable<String> startPlain;
        private String plainUrl;
        private final Path config;
        private final Path fetched;
        private final PgBackRest sync;
        private final PgBackRest async;

        Fetchers(Path dir, Path header, String url, java.util.concurrent.Callable<String> startPlain, Path config, Path fetched, PgBackRest sync, PgBackRest async) {
            this.dir = dir;
            this.header = header;
            this.url = url;
            this.startPlain = startPlain;
            this.config = config;
            this.fetched = fetched;
            this.sync = sync;
            this.async = async;
        }

        /** @param restoredName the standalone restore_command's data directory (its spool starts empty) */
        Fetches fetchAll(List<Path> segments, String restoredName, boolean keepPrefetcherLog) throws Exception {
            Path x = fetched.resolve("x");
            Timed pgwardenGet = time(segments, f -> List.of("sh", "-c", "curl --fail -sS -H @" + header + " -o " + x + " "
                    + url + f.getFileName() + " && rm " + x));
            if (plainUrl == null) plainUrl = startPlain.call();
            Timed pgwardenGetPlain = time(segments, f -> List.of("sh", "-c", "curl --fail -sS -H @" + header + " -o " + x + " "
                    + plainUrl + f.getFileName() + " && rm " + x));
            // pgwarden restore's own restore_command (no daemon): wal-fetch, which fetches 8 ahead into pg_wal/pgwarden-spool.
            System.setProperty("pgwarden.launcher", Launcher.executable().toString());
            String standalone = io.pgwarden.restore.RestoreCommands.standalone(config, "bench");
            Path restored = TestDirs.forPostgres(dir, restoredName);
            Files.createDirectories(restored.resolve("pg_wal"));
            boolean classArchive = classArchive();
            Timed standaloneGet = timeCalls(segments, f -> Processes.run(net.onDbHost(List.of("sh", "-c", "(" + standalone.replace("%f",
                    f.getFileName().toString()).replace("%p", "pg_wal/RECOVERYXLOG") + ") && rm pg_wal/RECOVERYXLOG")), restored));
            Path prefetcherLog = restored.resolve(io.pgwarden.restore.RestoreCommands.SPOOL).resolve(".prefetcher.log");
            if (keepPrefetcherLog && Files.exists(prefetcherLog)) {
                Files.copy(prefetcherLog, Path.of("target/bench/wal-fetch-prefetcher.log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            // Without the spool: a JVM per file (20 files: the rate is what matters, and it is slow).
            Timed standalonePlain = time(segments.subList(0, Math.min(20, segments.size())), f -> List.of("sh", "-c",
                    Launcher.executable() + " wal-fetch --config " + config + " --cluster bench " + f.getFileName() + " " + x + " && rm " + x));
            Timed syncGet = timeCalls(segments, f -> removeAfter(sync.run("archive-get", f.getFileName().toString(), x.toString()), x));
            Timed asyncGet = timeCalls(segments, f -> removeAfter(async.run("archive-get", f.getFileName().toString(), x.toString()), x));
            return new Fetches(pgwardenGet, pgwardenGetPlain, standaloneGet, classArchive, standalonePlain, syncGet, asyncGet);
        }
    }

    /**
     * Whether the launcher finds a class archive or AOT cache to map (written by the first standalone prefetcher on this
     * host, as it exits: one being written, the last round's, is waited for, up to a minute).
     */
    private static boolean classArchive() throws Exception {
        Path cache = Path.of(System.getProperty("user.home"), ".cache/pgwarden");
        if (!Files.isDirectory(cache)) return false;
        for (int i = 0; i < 600 && !filesIn(cache, "classes-.*\\.tmp.*").isEmpty(); i++) Thread.sleep(100);
        return !filesIn(cache, "classes-[0-9]+\\.(jsa|aot)").isEmpty();
    }

    private static List<Path> filesIn(Path dir, String pattern) throws Exception {
        try (var files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().matches(pattern)).toList();
        }
    }

    /**
     * Real WAL and the (stopped) cluster that wrote it, which pgBackRest's stanza must match. Making them takes minutes,
     * so both are kept in target/bench/side-by-side for the next run.
     */
    private static PgCluster walAndItsCluster(Path dir, Path cache) throws Exception {
        Path data = cache.resolve("pg");
        if (Files.exists(data.resolve("PG_VERSION")) && Files.isDirectory(cache.resolve("wal")) && segmentsIn(cache.resolve("wal")) > SEGMENTS) {
            return PgCluster.existing(dir, data, "pg");
        }
        TestDirs.delete(cache);
        Files.createDirectories(cache);
        Path archived = TestDirs.forPostgres(cache, "wal");
        try (PgCluster pg = PgCluster.init(cache, "pg", 16)) {
            generateWal(pg, archived);
        }
        return PgCluster.existing(dir, data, "pg");
    }

    /** pgbench on a fresh cluster until SEGMENTS+1 segments were archived (copied aside by archive_command). */
    private static void generateWal(PgCluster pg, Path archived) throws Exception {
        pg.configure("archive_mode = on", "archive_command = 'cp %p " + archived + "/%f'", "max_wal_size = '4GB'",
                "synchronous_commit = off").start();
        String port = Integer.toString(pg.port());
        Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pgbench").toString(), "-h", "127.0.0.1", "-p", port,
                "-U", "postgres", "-i", "-s", "20", "-q", "postgres"), "pgbench -i");
        while (segmentsIn(archived) <= SEGMENTS) {
            Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pgbench").toString(), "-h", "127.0.0.1", "-p", port,
                    "-U", "postgres", "-c", "4", "-j", "2", "-T", "10", "postgres"), "pgbench");
            pg.query("SELECT pg_switch_wal()");
        }
    }

    private static long segmentsIn(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}")).count();
        }
    }

    /** A data directory whose pg_wal is as the archiver leaves it: the segments (hard links), archive_status/*.ready. */
    private static Path readyDataDirectory(Path dir, String name, Path realData, List<Path> segments) throws Exception {
        Path data = TestDirs.forPostgres(dir, name);
        Files.createDirectories(data.resolve("global"));
        Files.copy(realData.resolve("global/pg_control"), data.resolve("global/pg_control"));
        Files.copy(realData.resolve("PG_VERSION"), data.resolve("PG_VERSION"));
        Path wal = TestDirs.forPostgres(data, "pg_wal");
        Path status = TestDirs.forPostgres(wal, "archive_status");
        for (Path s : segments) {
            Files.createLink(wal.resolve(s.getFileName()), s);
            Files.writeString(status.resolve(s.getFileName() + ".ready"), "");
        }
        Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", data.toString()), null), "chown");
        return data;
    }

    private static void markDone(Path wal, Path segment) {
        try {
            Path status = wal.resolve("archive_status");
            Files.move(status.resolve(segment.getFileName() + ".ready"), status.resolve(segment.getFileName() + ".done"));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static Processes.Result removeAfter(Processes.Result r, Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return r;
    }

    private Process startDaemon(Path dir, S3Server s3, Path ca, int port, int readAhead) throws Exception {
        Path config = dir.resolve("pgwarden-" + port + ".yml");
        Files.writeString(config, "server: {listen: \"" + net.dbHostAddress() + ":" + port + "\", allowPlaintext: true, walReadAhead: " + readAhead + ", walSpoolDir: "
                + dir.resolve("wal-spool-" + port) + "}\n"
                + s3.repositoryYaml("bench", "pgwarden", ca) + "clusters:\n  bench: {walToken: " + TOKEN + "}\n  ahead: {walToken: " + TOKEN + "-ahead}\n  warmup: {walToken: " + TOKEN + "-warmup}\n"
                + "  spooled: {walToken: " + TOKEN + "-spool, archive: {durability: spool}}\n");
        return Launcher.startDaemon(net.onDbHost(List.of()), config, Path.of("target/bench/side-by-side-daemon-" + readAhead + ".log").toAbsolutePath(),
                net.dbHostAddress(), port);
    }

    private double spoolFiles(int port) throws Exception {
        var response = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://" + net.dbHostAddress() + ":" + port + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        return io.pgwarden.it.support.PgwardenFixture.seriesValue(response.body(), "pgwarden_wal_spool_files{cluster=\"spooled\"}");
    }

    /** Each command runs on the database host (in the namespace when the link is shaped). */
    private Timed time(List<Path> files, Function<Path, List<String>> command) {
        return timeCalls(files, f -> Processes.run(net.onDbHost(command.apply(f)), null));
    }

    /** One call per file, one after the other, as PostgreSQL's archiver and startup process call them; each must succeed. */
    private static Timed timeCalls(List<Path> files, Function<Path, Processes.Result> call) {
        long[] nanos = new long[files.size()];
        MachineCpu.Sample before = MachineCpu.sample(daemons);
        for (int i = 0; i < files.size(); i++) {
            long start = System.nanoTime();
            Processes.checked(call.apply(files.get(i)), "call for " + files.get(i).getFileName());
            nanos[i] = System.nanoTime() - start;
        }
        return new Timed(nanos, MachineCpu.sample(daemons).since(before, files.size()), daemons.isEmpty() ? -1 : peakRssMib(daemons.get(0)));
    }

    /** The first daemon's peak RSS so far: which path raised it. */
    private static long peakRssMib(Process daemon) {
        try {
            return WalPushBenchmark.peakRssKb(daemon.pid()) / 1024;
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    /** One path's calls: each call's duration, the CPU time spent per call meanwhile, the first daemon's peak RSS after. */
    private record Timed(long[] nanos, MachineCpu.PerFile cpu, long daemonPeakMib) {
        double rate() {
            return nanos.length / (Arrays.stream(nanos).sum() / 1e9);
        }
    }

    private static void report(Network net, List<Path> segments, Timed coldPush, Timed rawPut, Timed pgwardenPush, Timed spoolPush, long spoolDrained, MachineCpu.PerFile spoolCpu, Timed aheadPush, Timed syncPush, Timed asyncPush, Timed cp,
                               Fetches near, Fetches distant, long rssKb)
            throws Exception {
        double mb = segments.size() * 16.0;
        StringBuilder text = new StringBuilder("""
                WAL paths side by side: %d real pgbench segments of 16 MiB, one call at a time as PostgreSQL makes them,
                %s, over HTTPS (in memory), 2 cores; zstd level 1 for both tools; %s
                cpu ms: CPU time spent per file during that path, by the whole machine (all), the pgwarden daemons (daemon), and
                this JVM, which runs S3Proxy (s3); the rest is the tools' own processes (curl, pgBackRest) and the kernel's;
                peak MiB: the (read-ahead) daemon's peak RSS (VmHWM) once that path ran
                                                        files/s   MB/s    p50 ms   p99 ms   cpu ms: all daemon   s3  peak MiB
                """.formatted(segments.size(), net.describe(), PgBackRest.version()));
        row(text, "push  curl PUT to S3 (raw, baseline)", rawPut, mb);
        row(text, "push  pgwarden, cold: first files after start", coldPush, mb);
        row(text, "push  pgwarden (curl to the daemon)", pgwardenPush, mb);
        row(text, "push  pgwarden, durability spool (ack)", spoolPush, mb);
        text.append("%-46s %7.1f %7.0f %17s %s%n".formatted("push  pgwarden, spool: until all uploaded", segments.size() / (spoolDrained / 1e9),
                mb / (spoolDrained / 1e9), "", spoolCpu));
        row(text, "push  pgwarden-wal-push, 2 ahead", aheadPush, mb);
        row(text, "push  pgBackRest archive-push sync", syncPush, mb);
        row(text, "push  pgBackRest archive-push async", asyncPush, mb);
        row(text, "fetch cp from a local directory", cp, mb);
        text.append("fetch, S3 as it is here%n".formatted());
        fetchRows(text, near, mb);
        text.append("fetch, S3 as if distant: %d ms before each GET answers, %d MB/s per GET%n".formatted(DISTANT_LATENCY_MS,
                DISTANT_BYTES_PER_SECOND / 1_000_000));
        fetchRows(text, distant, mb);
        text.append("""
                push:  pgwarden / pgBackRest sync %.2fx, / pgBackRest async %.2fx, / raw curl %.2fx
                push ahead: pgwarden-wal-push / pgBackRest async %.2fx, / pgBackRest sync %.2fx, / pgwarden one at a time %.2fx
                push, spool durability: acknowledged / pgBackRest async %.2fx, / pgwarden sync %.2fx; all uploaded / pgBackRest async %.2fx
                """.formatted(rate(pgwardenPush) / rate(syncPush), rate(pgwardenPush) / rate(asyncPush), rate(pgwardenPush) / rate(rawPut),
                rate(aheadPush) / rate(asyncPush), rate(aheadPush) / rate(syncPush), rate(aheadPush) / rate(pgwardenPush),
                rate(spoolPush) / rate(asyncPush), rate(spoolPush) / rate(pgwardenPush), segments.size() / (spoolDrained / 1e9) / rate(asyncPush)));
        fetchRatios(text, "fetch", near, cp);
        fetchRatios(text, "fetch, distant S3", distant, cp);
        text.append("daemon peak RSS (VmHWM) %d MiB%n".formatted(rssKb / 1024));
        System.out.print(text);
        Files.createDirectories(Path.of("target/bench"));
        Files.writeString(Path.of(net.isShaped() ? "target/bench/wal-side-by-side-" + System.getProperty("bench.link") + ".txt"
                : "target/bench/wal-side-by-side.txt"), text);
    }

    private static void fetchRows(StringBuilder text, Fetches f, double mb) {
        row(text, "fetch pgwarden, read-ahead off", f.pgwardenGetPlain(), mb);
        row(text, "fetch pgwarden (curl, read-ahead 8)", f.pgwardenGet(), mb);
        row(text, "fetch pgwarden wal-fetch (standalone, 8 ahead)", f.standaloneGet(), mb);
        text.append("%-46s %s; %s%n".formatted("      its slowest calls (call: ms)", slowest(f.standaloneGet(), 4), f.classArchive()
                ? "class archive mapped" : "no class archive yet (its prefetcher writes one)"));
        row(text, "fetch pgwarden wal-fetch, no spool (20 files)", f.standalonePlain(), f.standalonePlain().nanos().length * 16.0);
        row(text, "fetch pgBackRest archive-get sync", f.syncGet(), mb);
        row(text, "fetch pgBackRest archive-get async", f.asyncGet(), mb);
    }

    private static void fetchRatios(StringBuilder text, String what, Fetches f, Timed cp) {
        text.append("""
                %s: pgwarden / pgBackRest sync %.2fx, / pgBackRest async %.2fx, / cp %.2fx, / itself without read-ahead %.2fx
                %s standalone: wal-fetch / pgBackRest async %.2fx, / cp %.2fx, / itself without the spool %.2fx
                """.formatted(what, rate(f.pgwardenGet()) / rate(f.syncGet()), rate(f.pgwardenGet()) / rate(f.asyncGet()),
                rate(f.pgwardenGet()) / rate(cp), rate(f.pgwardenGet()) / rate(f.pgwardenGetPlain()), what,
                rate(f.standaloneGet()) / rate(f.asyncGet()), rate(f.standaloneGet()) / rate(cp),
                rate(f.standaloneGet()) / rate(f.standalonePlain())));
    }

    private static void row(StringBuilder text, String what, Timed timed, double mb) {
        long[] nanos = timed.nanos();
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        double seconds = Arrays.stream(nanos).sum() / 1e9;
        text.append("%-46s %7.1f %7.0f %8.1f %8.1f %s %9d%n".formatted(what, nanos.length / seconds, mb / seconds,
                sorted[sorted.length / 2] / 1e6, sorted[(int) Math.ceil(sorted.length * 0.99) - 1] / 1e6, timed.cpu(), timed.daemonPeakMib()));
    }

    /** The n slowest calls, by their number in the run (where the JVM starts fall). */
    private static String slowest(Timed timed, int n) {
        long[] nanos = timed.nanos();
        return java.util.stream.IntStream.range(0, nanos.length).boxed().sorted((a, b) -> Long.compare(nanos[b], nanos[a])).limit(n)
                .map(i -> "#" + (i + 1) + ": " + nanos[i] / 1_000_000).collect(java.util.stream.Collectors.joining(", "));
    }

    private static double rate(Timed timed) {
        return timed.rate();
    }
}
