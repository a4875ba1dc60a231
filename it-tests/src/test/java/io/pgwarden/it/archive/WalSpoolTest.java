package io.pgwarden.it.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.pgwarden.archive.WalFetcher;
import io.pgwarden.config.ConfigLoader;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.daemon.Daemon;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * archive.durability: spool. A push is acknowledged once fsynced in the local spool and uploaded in the background;
 * the repository is S3Proxy, stopped to hold uploads back (a real outage: the same server, gone and back).
 */
class WalSpoolTest {
    Path dir;
    S3Server s3;
    PgCluster source;
    PgwardenFixture pgwarden;
    Process daemon;
    final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) daemon.destroyForcibly().waitFor();
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        if (s3 != null) s3.close();
        TestDirs.delete(dir);
    }

    /**
     * The promise of the mode: WAL PostgreSQL was told is archived, and then recycled, is in the spool only; the daemon
     * is killed with SIGKILL (in the middle of pushes); after a restart with S3 back, every acknowledged segment is in
     * the repository, byte for byte, and the spool is empty.
     */
    @Test
    void acknowledgedWalSurvivesKillNineAfterPostgresqlRecycledItAndReachesTheRepository() throws Exception {
        dir = TestDirs.create("pgwarden-spool-kill-");
        s3 = new S3Server().start();
        s3.createBucket("spool");
        Path spool = dir.resolve("wal-spool");
        int port = TestDirs.freePort();
        Path config = PgwardenFixture.writeConfig(dir, "127.0.0.1:" + port, s3.repositoryYaml("spool", "k"), "walSpoolDir: " + spool,
                "archive: {durability: spool}\n");
        Files.writeString(dir.resolve("auth-header"), "Authorization: Bearer " + PgwardenFixture.TOKEN + "\n");
        Path log = dir.resolve("daemon.log");
        daemon = Launcher.startDaemon(config, log, port);
        source = PgCluster.init(dir, "source", 1)
                .configure("archive_mode = on", "archive_command = '" + PgwardenFixture.archiveCommandWithHeaderFile(dir, port) + "'",
                        "max_wal_size = '32MB'", "min_wal_size = '2MB'")
                .start();
        source.sql("CREATE TABLE t (x int, pad text)");
        String first = source.writeAndArchive(1).getFirst(); // pins the cluster in the repository, uploaded
        await().atMost(Duration.ofSeconds(20)).until(() -> committedIn(spool.resolve("main")).isEmpty());

        s3.stop();
        List<String> acknowledged = new ArrayList<>();
        Path copies = Files.createDirectories(dir.resolve("copies"));
        for (int i = 0; i < 6; i++) {
            source.query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
            String segment = source.query("SELECT pg_walfile_name(pg_switch_wal())");
            source.awaitArchived(segment, Duration.ofSeconds(30));
            Files.copy(source.dataDir().resolve("pg_wal").resolve(segment), copies.resolve(segment));
            acknowledged.add(segment);
        }
        assertThat(committedIn(spool.resolve("main"))).containsAll(acknowledged);
        // Served from the spool while S3 is away.
        HttpResponse<byte[]> fromSpool = get(port, acknowledged.getLast());
        assertThat(fromSpool.statusCode()).isEqualTo(200);
        assertThat(fromSpool.body()).isEqualTo(Files.readAllBytes(copies.resolve(acknowledged.getLast())));

        // PostgreSQL forgets them: a checkpoint removes or recycles segments it was told are archived.
        source.query("CHECKPOINT");
        source.query("SELECT pg_switch_wal()");
        source.query("CHECKPOINT");
        assertThat(acknowledged).anyMatch(s -> !Files.exists(source.dataDir().resolve("pg_wal").resolve(s)));

        // Killed while PostgreSQL keeps pushing.
        source.query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
        source.query("SELECT pg_switch_wal()");
        Thread.sleep(150);
        daemon.destroyForcibly().waitFor();
        s3.start();
        daemon = Launcher.startDaemon(config, log, port);
        String last = source.query("SELECT pg_walfile_name(pg_switch_wal())");
        source.awaitArchived(last, Duration.ofMinutes(2));
        await().atMost(Duration.ofSeconds(30)).until(() -> committedIn(spool.resolve("main")).isEmpty());
        try (Stream<Path> left = Files.list(spool.resolve("main"))) {
            assertThat(left.map(p -> p.getFileName().toString())).as("no partial push is left").containsExactlyInAnyOrder(".lock", "conflict");
        }
        assertThat(Files.readString(log)).doesNotContain("conflict/");

        // Straight from the repository (no daemon, no spool): each acknowledged segment, identical.
        PgwardenConfig cfg = ConfigLoader.load(config);
        try (StorageDriver storage = StorageFactory.create(cfg.repository())) {
            WalFetcher fetcher = new WalFetcher(cfg, new WalRepository(storage, cfg.repository()));
            for (String segment : acknowledged) {
                Path fetched = dir.resolve("fetched-" + segment);
                fetcher.fetchToFile("main", segment, fetched);
                assertThat(Files.readAllBytes(fetched)).as(segment).isEqualTo(Files.readAllBytes(copies.resolve(segment)));
            }
            assertThat(storage.stat("main/wal/00000001/" + first + ".zst")).isPresent();
        }
    }

    /**
     * The backlog's byte bound: with S3 away, pushes are acknowledged until the spool holds archive.maxBacklog, then
     * refused with 503 naming the bound, so PostgreSQL keeps its WAL; duplicates of spooled files are judged against the
     * spool (200 identical, 409 different); once S3 is back the backlog drains and PostgreSQL's archiving catches up.
     */
    @Test
    void aFullBacklogAnswers503AndPostgresqlCatchesUpOnceTheRepositoryIsBack() throws Exception {
        dir = TestDirs.create("pgwarden-spool-backlog-");
        s3 = new S3Server().start();
        s3.createBucket("spool");
        pgwarden = PgwardenFixture.start(dir, s3.repositoryYaml("spool", "b"), "walSpoolDir: " + dir.resolve("wal-spool"),
                "archive: {durability: spool, maxBacklog: 1MiB}\n");
        source = PgCluster.init(dir, "source", 1)
                .configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'", "wal_keep_size = '256MB'")
                .start();
        source.sql("CREATE TABLE t (x int, pad text)");
        source.writeAndArchive(1);
        awaitUploaded();
        s3.stop();
        // md5 text compresses to about half: the 1 MiB bound is reached after three or four 1 MiB segments.
        List<String> written = new ArrayList<>();
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(500)).until(() -> {
            source.query("INSERT INTO t SELECT g, md5(random()::text) FROM generate_series(1, 6000) g");
            written.add(source.query("SELECT pg_walfile_name(pg_switch_wal())"));
            return pgwarden.metric("pgwarden_wal_push_failures_total{cluster=\"main\",reason=\"unavailable\"}") >= 1;
        });
        assertThat(pgwarden.metric("pgwarden_wal_spool_backlog_bytes{cluster=\"main\"}")).isGreaterThanOrEqualTo(1 << 20);
        String lastAcknowledged = source.query("SELECT last_archived_wal FROM pg_stat_archiver");
        String refused = PgCluster.nextSegment(lastAcknowledged);
        byte[] refusedBytes = wal(refused);
        var full = pgwarden.put(refused, refusedBytes);
        assertThat(full.statusCode()).isEqualTo(503);
        assertThat(full.body()).contains("WAL file '" + refused + "' of cluster 'main' was not accepted", "archive.maxBacklog (1048576 bytes)",
                "PostgreSQL keeps the file and retries");
        assertThat(Files.exists(source.dataDir().resolve("pg_wal/archive_status/" + refused + ".ready"))).isTrue();

        // A spooled file pushed again: identical is a success, different a conflict; neither touches the spooled copy.
        byte[] spooled = wal(lastAcknowledged);
        assertThat(pgwarden.put(lastAcknowledged, spooled).statusCode()).isEqualTo(200);
        byte[] altered = spooled.clone();
        altered[altered.length - 1] ^= 1;
        var conflict = pgwarden.put(lastAcknowledged, altered);
        assertThat(conflict.statusCode()).isEqualTo(409);
        assertThat(conflict.body()).contains("already archived with different content");
        assertThat(pgwarden.get(lastAcknowledged).body()).isEqualTo(spooled);
        assertThat(pgwarden.metric("pgwarden_wal_fetches_total{cluster=\"main\",source=\"spool\"}")).isEqualTo(1);
        assertThat(pgwarden.metric("pgwarden_wal_spool_files{cluster=\"main\"}")).isGreaterThanOrEqualTo(2);

        s3.start();
        // PostgreSQL's archiver rests a minute after three failures in a row; a finished segment wakes it.
        source.query("INSERT INTO t SELECT g, md5(random()::text) FROM generate_series(1, 6000) g");
        written.add(source.query("SELECT pg_walfile_name(pg_switch_wal())"));
        String last = written.getLast();
        source.awaitArchived(last, Duration.ofMinutes(2));
        await().atMost(Duration.ofSeconds(30)).until(() -> pgwarden.metric("pgwarden_wal_spool_files{cluster=\"main\"}") == 0);
        assertThat(pgwarden.metric("pgwarden_wal_spool_backlog_bytes{cluster=\"main\"}")).isZero();
        assertThat(pgwarden.metric("pgwarden_wal_spool_uploads_total{cluster=\"main\",outcome=\"uploaded\"}")).isGreaterThanOrEqualTo(written.size());
        List<String> keys = pgwarden.walKeys();
        for (String segment : written) {
            assertThat(keys).contains("main/wal/00000001/" + segment + ".zst");
            assertThat(pgwarden.get(segment).body()).as(segment).isEqualTo(wal(segment));
        }
    }

    /**
     * A name the repository holds from before this daemon started (its spool does not know it), pushed again: compared
     * with the stored file, as a synchronous push's is, by a lookup under the key the upload would create: identical is
     * a success, different a conflict, and nothing is spooled.
     */
    @Test
    void aNameArchivedBeforeTheDaemonStartedIsComparedWithTheStoredFile() throws Exception {
        List<String> segments = spoolingDaemonAndReadySegments("archived", "a", "", 1);
        pgwarden.close();
        pgwarden = PgwardenFixture.startWithConfig(dir, pgwarden.configFile());
        byte[] stored = wal(segments.get(0));
        assertThat(pgwarden.put(segments.get(0), stored).statusCode()).isEqualTo(200);
        byte[] altered = stored.clone();
        altered[altered.length - 1] ^= 1;
        var conflict = pgwarden.put(segments.get(0), altered);
        assertThat(conflict.statusCode()).isEqualTo(409);
        assertThat(conflict.body()).contains("already archived with different content");
        assertThat(pgwarden.metric("pgwarden_wal_spool_files{cluster=\"main\"}")).isZero();
        assertThat(pgwarden.get(segments.get(0)).body()).isEqualTo(stored);
    }

    /**
     * The age bound, a second daemon on the same spool, and a name the repository meanwhile holds with other content:
     * the stored object is never overwritten, and the spooled file is kept aside, counted and logged.
     */
    @Test
    void theAgeBoundASecondDaemonAndAConflictFoundAtUpload() throws Exception {
        List<String> segments = spoolingDaemonAndReadySegments("conflict", "c", "maxBacklogAge: 2s", 3);
        Path spool = dir.resolve("wal-spool");

        PgwardenConfig sameSpool = ConfigLoader.load(PgwardenFixture.writeConfig(Files.createDirectories(dir.resolve("second")),
                "127.0.0.1:" + TestDirs.freePort(), s3.repositoryYaml("spool", "c"), "walSpoolDir: " + spool, "archive: {durability: spool}\n"));
        assertThatThrownBy(() -> Daemon.start(sameSpool, java.time.Clock.systemUTC()).close())
                .isInstanceOf(PgwardenException.class)
                .hasMessage("the WAL spool '" + spool.resolve("main") + "' of cluster 'main' is in use by another pgwarden process;"
                        + " give each daemon its own server.walSpoolDir");

        s3.stop();
        assertThat(pgwarden.put(segments.get(1), wal(segments.get(1))).statusCode()).isEqualTo(201);
        Thread.sleep(2500);
        var tooOld = pgwarden.put(segments.get(2), wal(segments.get(2)));
        assertThat(tooOld.statusCode()).isEqualTo(503);
        assertThat(tooOld.body()).contains("longer than archive.maxBacklogAge (PT2S); is the repository reachable?");
        assertThat(pgwarden.metric("pgwarden_wal_spool_oldest_age_seconds{cluster=\"main\"}")).isGreaterThanOrEqualTo(2);

        // Meanwhile another writer stored other content under the second segment's name.
        String key = "c/main/wal/00000001/" + segments.get(1) + ".zst";
        s3.putInStore("spool", key, "not this".getBytes(), Map.of("sha256", "0".repeat(64), "raw-size", "8"));
        s3.start();
        Path aside = spool.resolve("main/conflict").resolve(segments.get(1));
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(aside));
        assertThat(s3.metadataInStore("spool", key).orElseThrow()).containsEntry("sha256", "0".repeat(64));
        assertThat(pgwarden.metric("pgwarden_wal_spool_uploads_total{cluster=\"main\",outcome=\"conflict\"}")).isEqualTo(1);
        assertThat(pgwarden.metric("pgwarden_wal_spool_files{cluster=\"main\"}")).isZero();
        assertThat(Files.exists(spool.resolve("main").resolve(segments.get(1)))).isFalse();
        // The spool accepts again once its backlog is gone.
        assertThat(pgwarden.put(segments.get(2), wal(segments.get(2))).statusCode()).isEqualTo(201);
    }

    /**
     * A repository that accepts connections and never answers (default S3 timeouts: 10 s per attempt, two attempts):
     * a spooled push does not wait for it to say whether the name is archived, so it is acknowledged in about the
     * two seconds it waits for that answer, and uploaded once S3 is back.
     */
    @Test
    void aRepositoryThatNeverAnswersDoesNotHoldUpSpooledPushes() throws Exception {
        List<String> segments = spoolingDaemonAndReadySegments("hang", "h", "", 2);
        byte[] second = wal(segments.get(1));
        s3.stop();
        try (io.pgwarden.it.support.BlackHole ignored = new io.pgwarden.it.support.BlackHole(s3.port())) {
            long started = System.nanoTime();
            var pushed = pgwarden.put(segments.get(1), second);
            assertThat(pushed.statusCode()).as(pushed.body()).isEqualTo(201);
            // Functional, not a timing: below one S3 request timeout means it did not wait for the repository.
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
            assertThat(pgwarden.get(segments.get(1)).body()).isEqualTo(second);
        }
        s3.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> pgwarden.walKeys().contains("main/wal/00000001/" + segments.get(1) + ".zst"));
        await().atMost(Duration.ofSeconds(10)).until(() -> pgwarden.metric("pgwarden_wal_spool_files{cluster=\"main\"}") == 0);
    }

    /**
     * Files in the spool directory that pgwarden did not write as they are: one whose footer names a key outside its
     * WAL name (a base backup's), and one with no footer at all. Neither is uploaded anywhere; both are moved to
     * conflict/ for the operator, unchanged, and their names can be spooled again.
     */
    @Test
    void craftedSpoolFilesAreNeitherUploadedNorDeleted() throws Exception {
        List<String> segments = spoolingDaemonAndReadySegments("crafted", "x", "", 3);
        Path spool = dir.resolve("wal-spool");
        s3.stop();
        assertThat(pgwarden.put(segments.get(1), wal(segments.get(1))).statusCode()).isEqualTo(201);
        pgwarden.close();
        pgwarden = null;

        // The spooled file's footer now names a base backup object; a second file has no footer.
        Path redirected = spool.resolve("main").resolve(segments.get(1));
        String baseKey = "main/base/20260101T000000Z/base.tar.zst";
        rewriteFooterKey(redirected, baseKey);
        Path noFooter = spool.resolve("main").resolve(segments.get(2));
        Files.writeString(noFooter, "not a spooled file");

        s3.start();
        pgwarden = PgwardenFixture.startWithConfig(dir, dir.resolve("pgwarden.yml"));
        assertThat(pgwarden.metric("pgwarden_wal_spool_files{cluster=\"main\"}")).isZero();
        Path conflicts = spool.resolve("main/conflict");
        assertThat(conflicts.resolve(segments.get(2))).hasContent("not a spooled file");
        assertThat(conflicts.resolve(segments.get(1))).exists();
        // Their names are free again: PostgreSQL pushing them is spooled and uploaded as usual.
        byte[] third = wal(segments.get(2));
        assertThat(pgwarden.put(segments.get(2), third).statusCode()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(20)).until(() -> pgwarden.walKeys().contains("main/wal/00000001/" + segments.get(2) + ".zst"));
        assertThat(s3.metadataInStore("spool", "x/" + baseKey)).as("nothing was written where the footer pointed").isEmpty();
        assertThat(s3.metadataInStore("spool", "x/main/wal/00000001/" + segments.get(1) + ".zst")).isEmpty();
        assertThat(conflicts.resolve(segments.get(2))).hasContent("not a spooled file");
        assertThat(pgwarden.get(segments.get(2)).body()).isEqualTo(third);
    }

    /** Replaces the key in a spooled file's footer (JSON, then its length in 4 bytes, then the magic string). */
    private static void rewriteFooterKey(Path file, String key) throws java.io.IOException {
        byte[] bytes = Files.readAllBytes(file);
        int magic = "pgwarden-spool-v1".length();
        int footerLength = java.nio.ByteBuffer.wrap(bytes, bytes.length - magic - 4, 4).getInt();
        int footerStart = bytes.length - magic - 4 - footerLength;
        var footer = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(new String(bytes, footerStart, footerLength, java.nio.charset.StandardCharsets.UTF_8));
        footer.put("key", key);
        byte[] newFooter = footer.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        var out = new java.io.ByteArrayOutputStream();
        out.write(bytes, 0, footerStart);
        out.write(newFooter);
        out.write(java.nio.ByteBuffer.allocate(4).putInt(newFooter.length).array());
        out.write(bytes, bytes.length - magic, magic);
        Files.write(file, out.toByteArray());
    }

    /**
     * S3Proxy, a daemon whose cluster main is spooled ({@code archive: {durability: spool, <archiveOptions>}}), and a
     * server whose WAL waits as .ready (its archive_command fails): the test pushes by hand. The first of the n
     * segments is pushed and uploaded (it pins the cluster); their names are returned.
     */
    private List<String> spoolingDaemonAndReadySegments(String test, String prefix, String archiveOptions, int n) throws Exception {
        dir = TestDirs.create("pgwarden-spool-" + test + "-");
        s3 = new S3Server().start();
        s3.createBucket("spool");
        pgwarden = PgwardenFixture.start(dir, s3.repositoryYaml("spool", prefix), "walSpoolDir: " + dir.resolve("wal-spool"),
                "archive: {durability: spool" + (archiveOptions.isEmpty() ? "" : ", " + archiveOptions) + "}\n");
        source = PgCluster.init(dir, "source", 1).configure("archive_mode = on", "archive_command = '/bin/false'").start();
        source.sql("CREATE TABLE t (x int)");
        List<String> segments = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            source.query("INSERT INTO t SELECT generate_series(1, 1000)");
            segments.add(source.query("SELECT pg_walfile_name(pg_switch_wal())"));
        }
        assertThat(pgwarden.put(segments.get(0), wal(segments.get(0))).statusCode()).isEqualTo(201);
        awaitUploaded();
        return segments;
    }

    /** A segment as PostgreSQL wrote it. */
    private byte[] wal(String segment) throws java.io.IOException {
        return Files.readAllBytes(source.dataDir().resolve("pg_wal").resolve(segment));
    }

    /** The spool is empty: what was acknowledged so far is in the repository. */
    private void awaitUploaded() {
        await().atMost(Duration.ofSeconds(20)).until(() -> pgwarden.metric("pgwarden_wal_spool_files{cluster=\"main\"}") == 0);
    }

    /** Committed spool files: WAL names, not the lock, temp files or the conflict directory. */
    private static List<String> committedIn(Path clusterSpool) throws java.io.IOException {
        try (Stream<Path> files = Files.list(clusterSpool)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".") && !n.equals("conflict")).sorted().toList();
        }
    }

    private HttpResponse<byte[]> get(int port, String file) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/wal/" + file))
                .header("Authorization", "Bearer " + PgwardenFixture.TOKEN).build(), HttpResponse.BodyHandlers.ofByteArray());
    }
}
