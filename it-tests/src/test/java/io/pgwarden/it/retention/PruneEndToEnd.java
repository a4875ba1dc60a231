package io.pgwarden.it.retention;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Retention end to end on a real repository: three base backups of a real PostgreSQL 15 with batches of rows between
 * them, `keepLast: 2`; prune deletes exactly the oldest backup and the WAL before the second one's start, keeps every
 * history file; a PITR restore to the oldest point still kept succeeds with exactly the rows, one to a point before it
 * is refused with the planner's message. Subclasses pick the repository.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class PruneEndToEnd {
    Path dir;
    PgwardenFixture pgwarden;
    PgCluster source;
    final String[] backups = new String[3];
    Instant beforeSecond;
    Instant afterSecond;

    abstract String repositoryYaml(Path dir) throws Exception;

    /** Begins a write of key and leaves it incomplete, as a writer that died would (S3: a multipart upload; filesystem: a temp file). */
    abstract void leaveIncompleteUpload(String key) throws Exception;

    void stopRepository() throws Exception {
    }

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-prune-");
        source = PgCluster.init(dir, "source", 16);
        pgwarden = PgwardenFixture.start(dir, repositoryYaml(dir), "", "connection: {host: 127.0.0.1, port: " + source.port()
                + ", user: postgres}\nretention: {base: {keepLast: 2}}\n");
        source.configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'").start();
        source.query("CREATE TABLE t (id serial, batch int)");
        backups[0] = backup();
        batch(1);
        beforeSecond = now();
        batch(2);
        backups[1] = backup();
        batch(3);
        afterSecond = now();
        batch(4);
        backups[2] = backup();
        source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
    }

    @AfterAll
    void stop() throws Exception {
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        stopRepository();
        TestDirs.delete(dir);
    }

    private String backup() {
        var run = pgwarden.daemon().jobs().run(new JobRequest("main", JobKind.BASE, Optional.empty(), "test"));
        assertThat(run.state()).as(String.valueOf(run.error())).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        return run.id();
    }

    private void batch(int n) throws InterruptedException {
        source.query("INSERT INTO t (batch) SELECT " + n + " FROM generate_series(1, 10)");
        source.query("SELECT pg_switch_wal()");
        Thread.sleep(1100);
    }

    private Instant now() throws InterruptedException {
        Instant t = Instant.parse(source.query("SELECT to_json(clock_timestamp())#>>'{}'"));
        Thread.sleep(1100);
        return t;
    }

    private String startWal(String backupId) throws Exception {
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository());
             var object = storage.get("main/base/" + backupId + "/manifest.json").orElseThrow()) {
            return new com.fasterxml.jackson.databind.ObjectMapper().readTree(object.content()).get("startWalFile").asText();
        }
    }

    @Test
    @Order(1)
    void aDryRunShowsThePlanAndDeletesNothing() throws Exception {
        List<String> before = pgwarden.repositoryKeys("main/");
        var r = pgwarden.cli("prune", "--dry-run");
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stdout()).containsPattern("base\\s+" + backups[0] + "\\s+\\S+\\s+not among the 2 newest")
                .contains("before " + startWal(backups[1])).doesNotContainPattern("base\\s+" + backups[1]);
        assertThat(pgwarden.repositoryKeys("main/")).isEqualTo(before);
    }

    @Test
    @Order(2)
    void pruneKeepsTheTwoNewestBackupsAndTheWalTheyNeed() throws Exception {
        String cutoff = startWal(backups[1]);
        List<String> historyAndBackupFiles = pgwarden.repositoryKeys("main/wal/").stream().filter(k -> k.contains(".history.") || k.contains(".backup."))
                .filter(k -> k.contains(".history.") || k.substring(k.lastIndexOf('/') + 9, k.lastIndexOf('/') + 25).compareTo(cutoff.substring(8)) >= 0)
                .toList();
        var r = pgwarden.cli("prune");
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stdout()).containsPattern("deleted \\d+ objects");

        assertThat(pgwarden.repositoryKeys("main/base/").stream().map(k -> k.split("/")[2]).distinct().toList()).containsExactly(backups[1], backups[2]);
        List<String> wal = pgwarden.repositoryKeys("main/wal/");
        assertThat(wal).allSatisfy(k -> {
            String name = k.substring(k.lastIndexOf('/') + 1);
            if (!name.contains(".history.")) assertThat(name.substring(8, 24)).isGreaterThanOrEqualTo(cutoff.substring(8));
        });
        assertThat(wal).containsAll(historyAndBackupFiles).anyMatch(k -> k.contains("/" + cutoff + "."));
        // Run again: nothing left to do.
        assertThat(pgwarden.cli("prune").stdout()).contains("nothing to delete");
    }

    @Test
    @Order(3)
    void theOldestPointKeptStillRestoresAndAnEarlierOneIsRefused() throws Exception {
        var refused = pgwarden.cli("restore", "--target-time", beforeSecond.toString(), "--dry-run");
        assertThat(refused.exitCode()).isEqualTo(1);
        assertThat(refused.stderr()).contains("ended before the target").contains("the earliest restorable point is ")
                .contains("the end of base backup " + backups[1]);

        Path target = dir.resolve("restored");
        int port = TestDirs.freePort();
        var r = pgwarden.cli("restore", "--target-time", afterSecond.toString(), "--target-dir", target.toString(), "--start", "--port",
                Integer.toString(port), "--archive-mode", "off");
        try {
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            var psql = new io.pgwarden.it.support.Psql("127.0.0.1", port, "unused");
            assertThat(psql.query("postgres", "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM"
                    + " (SELECT batch, count(*) n FROM t GROUP BY batch) s")).isEqualTo("1:10,2:10,3:10");
        } finally {
            Processes.asPostgres(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", target.toString(), "-m", "fast", "-w", "stop");
        }
    }

    @Test
    @Order(4)
    void aPruneInterruptedAfterAManifestWentIsFinishedByTheNextRun() throws Exception {
        // Fault injection (a kill cannot be timed between two deletions): the state an interrupted prune leaves after
        // marking backup 2 and deleting its manifest, its data still there.
        String prefix = "main/base/" + backups[1] + "/";
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            storage.put(prefix + "deleting", new java.io.ByteArrayInputStream(new byte[0]), java.util.Map.of());
            storage.delete(prefix + "manifest.json");
        }
        assertThat(pgwarden.cli("list").stdout()).doesNotContain(backups[1]);
        var half = pgwarden.cli("verify");
        assertThat(half.exitCode()).as(half.stdout() + half.stderr()).isZero();
        var r = pgwarden.cli("prune");
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(pgwarden.repositoryKeys(prefix)).isEmpty();
        assertThat(pgwarden.repositoryKeys("main/base/").stream().map(k -> k.split("/")[2]).distinct().toList()).containsExactly(backups[2]);
        var verified = pgwarden.cli("verify");
        assertThat(verified.exitCode()).as(verified.stdout() + verified.stderr()).isZero();
        assertThat(verified.stdout()).contains("ok      base backup " + backups[2]).contains("the repository verified");
    }

    @Test
    @Order(5)
    void theDaemonsRetentionJobPrunesAndCountsWhatItDeleted() throws Exception {
        assertThat(pgwarden.metric("pgwarden_retention_deleted_objects_total{cluster=\"main\"}")).isZero();
        String third = backup();
        String fourth = backup();
        var run = pgwarden.daemon().jobs().run(new JobRequest("main", JobKind.RETENTION, Optional.empty(), "test"));
        assertThat(run.state()).as(String.valueOf(run.error())).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        assertThat(pgwarden.repositoryKeys("main/base/").stream().map(k -> k.split("/")[2]).distinct().toList()).containsExactlyInAnyOrder(third, fourth);
        // backups[2]'s manifest, mark and data, and the WAL before the third backup's start
        assertThat(pgwarden.metric("pgwarden_retention_deleted_objects_total{cluster=\"main\"}")).isGreaterThanOrEqualTo(4);
        assertThat(pgwarden.metric("pgwarden_retention_freed_bytes_total{cluster=\"main\"}")).isGreaterThan(0);
        assertThat(pgwarden.metric("pgwarden_retention_failures_total{cluster=\"main\"}")).isZero();
    }

    @Test
    @Order(6)
    void verifyNamesAFlippedByteAMissingWalFileAndATruncatedObject() throws Exception {
        source.query("INSERT INTO t (batch) VALUES (9)");
        source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
        // Ordered by where they start in WAL (two backups of one second do not sort by id).
        List<String> byStart = new java.util.ArrayList<>(pgwarden.repositoryKeys("main/base/").stream().map(k -> k.split("/")[2]).distinct().toList());
        java.util.Map<String, String> starts = new java.util.HashMap<>();
        for (String id : byStart) starts.put(id, startWal(id));
        byStart.sort(java.util.Comparator.comparing(starts::get));
        String oldest = byStart.get(0);
        String newest = byStart.get(byStart.size() - 1);
        assertThat(pgwarden.cli("verify").exitCode()).isZero();

        String base = "main/base/" + oldest + "/base.tar.zst";
        damaged(base, bytes -> bytes[bytes.length / 2] ^= 0x5a, () -> {
            var r = pgwarden.cli("verify");
            assertThat(r.exitCode()).isEqualTo(5);
            assertThat(r.stdout()).contains("FAILED  base backup " + oldest + ": repository object '" + base + "'");
            assertThat(r.stderr()).contains("1 problem(s)");
        });
        String pgManifest = "main/base/" + oldest + "/backup_manifest.zst";
        damaged(pgManifest, bytes -> bytes[bytes.length / 2] ^= 0x5a, () -> {
            var r = pgwarden.cli("verify");
            assertThat(r.exitCode()).isEqualTo(5);
            assertThat(r.stdout()).contains("FAILED  backup_manifest of base backup " + oldest + ": repository object '" + pgManifest + "'");
        });

        // The newest backup's start segment lies inside the oldest backup's chain (newer segments follow it).
        String middle = startWal(newest);
        String walKey = pgwarden.repositoryKeys("main/wal/00000001/").stream().filter(k -> k.matches(".*/" + middle + "\\.[a-z]+")).findFirst().orElseThrow();
        damaged(walKey, null, () -> {
            var r = pgwarden.cli("verify");
            assertThat(r.exitCode()).isEqualTo(5);
            assertThat(r.stdout()).contains("FAILED  WAL continuity of base backup " + oldest + ": WAL gap in cluster 'main': file '"
                    + middle + "' is missing");
        });

        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            var info = storage.stat(walKey).orElseThrow();
            byte[] all;
            try (var object = storage.get(walKey).orElseThrow()) {
                all = object.content().readAllBytes();
            }
            storage.put(walKey, new java.io.ByteArrayInputStream(java.util.Arrays.copyOf(all, all.length / 2)), info.metadata());
            try {
                var r = pgwarden.cli("verify");
                assertThat(r.exitCode()).isEqualTo(5);
                assertThat(r.stdout()).contains("FAILED  WAL file " + middle + ": repository object '" + walKey + "'");
            } finally {
                storage.put(walKey, new java.io.ByteArrayInputStream(all), info.metadata());
            }
        }
        assertThat(pgwarden.cli("verify").exitCode()).isZero();
    }

    @Test
    @Order(7)
    void theDaemonsVerifyJobRecordsSuccessAndFailureInItsMetrics() throws Exception {
        assertThat(pgwarden.metric("pgwarden_verify_last_success_timestamp_seconds{cluster=\"main\"}")).isZero();
        var ok = pgwarden.daemon().jobs().run(new JobRequest("main", JobKind.VERIFY, Optional.empty(), "test"));
        assertThat(ok.state()).as(String.valueOf(ok.error())).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        double lastSuccess = pgwarden.metric("pgwarden_verify_last_success_timestamp_seconds{cluster=\"main\"}");
        assertThat(lastSuccess).isGreaterThanOrEqualTo(ok.startedAt().getEpochSecond());

        String backup = pgwarden.repositoryKeys("main/base/").stream().map(k -> k.split("/")[2]).findFirst().orElseThrow();
        String base = "main/base/" + backup + "/base.tar.zst";
        damaged(base, bytes -> bytes[bytes.length / 3] ^= 0x01, () -> {
            var failed = pgwarden.daemon().jobs().run(new JobRequest("main", JobKind.VERIFY, Optional.empty(), "test"));
            assertThat(failed.state()).isEqualTo(io.pgwarden.jobs.JobState.FAILED);
            assertThat(failed.error()).startsWith("1 problem(s); the first: base backup " + backup + ": repository object '" + base + "'");
        });
        assertThat(pgwarden.metric("pgwarden_verify_failures_total{cluster=\"main\"}")).isEqualTo(1);
        assertThat(pgwarden.metric("pgwarden_verify_last_success_timestamp_seconds{cluster=\"main\"}")).isEqualTo(lastSuccess);
    }

    @Test
    @Order(8)
    void repositorySizeBytesIsWhatTheRepositoryHoldsByKind() throws Exception {
        // Every run re-measures; the last one (a verify) left the gauges current.
        var run = pgwarden.daemon().jobs().run(new JobRequest("main", JobKind.VERIFY, Optional.empty(), "test"));
        assertThat(run.state()).as(String.valueOf(run.error())).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        java.util.Map<String, Long> listed = new java.util.HashMap<>();
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository()); var all = storage.list("main/")) {
            all.forEach(o -> listed.merge(switch (o.key().split("/")[1]) {
                case "base", "wal", "dump", "globals" -> o.key().split("/")[1];
                default -> "records";
            }, o.size(), Long::sum));
        }
        assertThat(listed.get("base")).isGreaterThan(0);
        assertThat(listed.get("wal")).isGreaterThan(0);
        for (String kind : List.of("base", "dump", "globals", "wal", "records")) {
            assertThat(pgwarden.metric("pgwarden_repository_size_bytes{cluster=\"main\",kind=\"" + kind + "\"}")).as(kind)
                    .isEqualTo(listed.getOrDefault(kind, 0L).doubleValue());
        }
        // A WAL push adds its stored size at once.
        double wal = pgwarden.metric("pgwarden_repository_size_bytes{cluster=\"main\",kind=\"wal\"}");
        source.query("INSERT INTO t (batch) VALUES (10)");
        source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
        assertThat(pgwarden.metric("pgwarden_repository_size_bytes{cluster=\"main\",kind=\"wal\"}")).isGreaterThan(wal);
    }

    @Test
    @Order(9)
    void garbageOlderThanTheGracePeriodGoesAndNothingCommittedIsTouched() throws Exception {
        // Fault injection: what a backup run that died leaves (its data written, its manifest never), and a write
        // that died half way. Neither can be produced on cue by killing a real run.
        String orphan = "main/base/20200101T000000Z-dead/";
        String halfWritten = "main/base/20200101T000000Z-dea2/base.tar.zst";
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            storage.put(orphan + "base.tar.zst", new java.io.ByteArrayInputStream(new byte[4096]), java.util.Map.of());
        }
        leaveIncompleteUpload(halfWritten);
        List<String> committed = pgwarden.repositoryKeys("main/").stream().filter(k -> !k.startsWith(orphan)).toList();

        // Younger than the grace period (24h by default): not garbage yet, it could be a backup being written.
        var fresh = pgwarden.cli("prune", "--dry-run");
        assertThat(fresh.stdout()).doesNotContain("garbage");
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            var later = new io.pgwarden.retention.RetentionService(pgwarden.config(), storage,
                    java.time.Clock.offset(java.time.Clock.systemUTC(), Duration.ofHours(25)));
            var prune = later.plan("main", java.util.Set.of());
            assertThat(prune.garbage()).extracting(io.pgwarden.retention.GarbageCollector.Garbage::directory)
                    .containsExactlyInAnyOrder(orphan, halfWritten);
            later.apply(prune);
            assertThat(storage.list(orphan).toList()).isEmpty();
            try (var uploads = storage.incompleteUploads("main/")) {
                assertThat(uploads.toList()).isEmpty();
            }
            assertThat(later.plan("main", java.util.Set.of()).garbage()).isEmpty();
        }
        assertThat(pgwarden.repositoryKeys("main/")).containsAll(committed);
        var verified = pgwarden.cli("verify");
        assertThat(verified.exitCode()).as(verified.stdout()).isZero();
    }

    /** Damages an object (null: removes it), runs the check, and puts the original back whatever happened. */
    private void damaged(String key, java.util.function.Consumer<byte[]> damage, Runnable check) throws Exception {
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            var info = storage.stat(key).orElseThrow();
            byte[] original;
            try (var object = storage.get(key).orElseThrow()) {
                original = object.content().readAllBytes();
            }
            if (damage == null) {
                storage.delete(key);
            } else {
                byte[] copy = original.clone();
                damage.accept(copy);
                storage.put(key, new java.io.ByteArrayInputStream(copy), info.metadata());
            }
            try {
                check.run();
            } finally {
                storage.put(key, new java.io.ByteArrayInputStream(original), info.metadata());
            }
        }
    }
}
