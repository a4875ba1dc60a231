package io.pgwarden.it.retention;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.Psql;
import io.pgwarden.it.support.ShiftedClock;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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
 * Retention across simulated days. The daemon's clock is injected (a {@link ShiftedClock}) and the PostgreSQL server
 * runs under libfaketime with the same offset, so manifests, run ids and the commit timestamps in the WAL all agree
 * on the simulated day. Days 0 to 3 (four to one days ago) each get a base backup, a dump and a batch of rows; on
 * day 4 (now) a prune with {@code base: {window: 2d}, dump: {daily: 2}} must leave exactly the backups of days 2
 * and 3 (day 2's is the newest that ended before the window, which PITR to the window's start needs), the dumps of
 * days 2 and 3, and no WAL before day 2's backup. A PITR restore to the window's oldest point then gives exactly the
 * rows committed by then; one to just before the oldest backup kept is refused with the planner's message.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class SimulatedDaysEndToEnd {
    static final int DAYS = 4;

    Path dir;
    Path offsetFile;
    final ShiftedClock clock = new ShiftedClock();
    PgwardenFixture pgwarden;
    PgCluster source;
    final String[] backups = new String[DAYS];
    final String[] dumps = new String[DAYS];
    Instant prunedAt;

    abstract String repositoryYaml(Path dir) throws Exception;

    void stopRepository() throws Exception {
    }

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-days-");
        offsetFile = TestDirs.forPostgres(dir, "faketime").resolve("offset");
        source = PgCluster.init(dir, "source", 16);
        Path config = PgwardenFixture.writeConfig(dir, "127.0.0.1:0", repositoryYaml(dir), "", "connection: {host: 127.0.0.1, port: "
                + source.port() + ", user: postgres}\nretention: {base: {window: 2d}, dump: {daily: 2}}\n");
        pgwarden = PgwardenFixture.startWithConfig(dir, config, clock);
        day(0);
        source.configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'", "track_commit_timestamp = on")
                .startWithShiftedClock(offsetFile);
        source.query("CREATE TABLE t (id serial, batch int)");
        for (int day = 0; day < DAYS; day++) {
            day(day);
            backups[day] = run(JobKind.BASE);
            dumps[day] = run(JobKind.DUMP);
            source.query("INSERT INTO t (batch) SELECT " + (day + 1) + " FROM generate_series(1, 10)");
            source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
        }
        day(DAYS);
    }

    /** Moves the daemon and the server to simulated day n (day DAYS is now). */
    private void day(int n) throws Exception {
        Duration offset = Duration.ofDays(n - DAYS);
        // Replaced atomically: libfaketime re-reads it on every clock call and must never see it half written.
        Path tmp = offsetFile.resolveSibling("offset.tmp");
        Files.writeString(tmp, offset.isZero() ? "+0\n" : "-" + (DAYS - n) + "d\n");
        tmp.toFile().setReadable(true, false);
        Files.move(tmp, offsetFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        clock.shift(offset);
    }

    private String run(JobKind kind) {
        var run = pgwarden.daemon().jobs().run(new JobRequest("main", kind, Optional.empty(), "test"));
        assertThat(run.state()).as(kind + ": " + run.error()).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        return run.id();
    }

    @AfterAll
    void stop() throws Exception {
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        stopRepository();
        TestDirs.delete(dir);
    }

    private List<BaseBackupManifest> baseBackups() {
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            return new Catalog(storage).baseBackups("main");
        }
    }

    private List<DumpManifest> dumpManifests() {
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            return new Catalog(storage).dumps("main");
        }
    }

    @Test
    @Order(1)
    void theServerAndTheDaemonSawTheSimulatedDays() {
        List<BaseBackupManifest> all = baseBackups();
        assertThat(all).extracting(BaseBackupManifest::backupId).containsExactly(backups);
        Instant now = Instant.now();
        for (int day = 0; day < DAYS; day++) {
            Duration ago = Duration.between(all.get(day).stopTime(), now);
            assertThat(ago).as("backup of day %d", day).isBetween(Duration.ofDays(DAYS - day), Duration.ofDays(DAYS - day).plusMinutes(10));
        }
        // The commit of day 0's batch carries day 0's time: the server's clock was shifted too.
        Instant firstCommit = Instant.parse(source.query("SELECT to_json(min(pg_xact_commit_timestamp(xmin)))#>>'{}' FROM t"));
        assertThat(Duration.between(firstCommit, now)).isBetween(Duration.ofDays(DAYS), Duration.ofDays(DAYS).plusMinutes(10));
    }

    @Test
    @Order(2)
    void pruneOnTheLastDayLeavesExactlyWhatTheWindowAndTheDailyCountKeep() throws Exception {
        prunedAt = Instant.now();
        var r = pgwarden.cli("prune");
        assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
        assertThat(baseBackups()).extracting(BaseBackupManifest::backupId)
                .containsExactly(backups[2], backups[3]);
        List<DumpManifest> dumpsLeft = dumpManifests();
        assertThat(dumpsLeft).filteredOn(d -> "postgres".equals(d.database())).extracting(DumpManifest::dumpId).containsExactly(dumps[2], dumps[3]);
        assertThat(dumpsLeft).filteredOn(DumpManifest::isGlobals).extracting(DumpManifest::dumpId).containsExactly(dumps[2], dumps[3]);
        assertThat(pgwarden.repositoryKeys("main/base/").stream().map(k -> k.split("/")[2]).distinct().toList())
                .containsExactly(backups[2], backups[3]);
        String cutoff = baseBackups().get(0).startWalFile();
        assertThat(pgwarden.repositoryKeys("main/wal/")).allSatisfy(k -> {
            String name = k.substring(k.lastIndexOf('/') + 1);
            if (!name.contains(".history.")) assertThat(name.substring(8, 24)).isGreaterThanOrEqualTo(cutoff.substring(8));
        });
        assertThat(pgwarden.cli("prune").stdout()).contains("nothing to delete");
    }

    @Test
    @Order(3)
    void theWindowsOldestPointRestoresAndJustBeforeTheOldestBackupKeptIsRefused() throws Exception {
        BaseBackupManifest oldestKept = baseBackups().get(0);
        Instant before = oldestKept.stopTime().minusSeconds(1);
        var refused = pgwarden.cli("restore", "--target-time", before.toString(), "--dry-run");
        assertThat(refused.exitCode()).isEqualTo(1);
        assertThat(refused.stderr()).contains("no base backup of cluster 'main' on timeline 1's path ended before the target")
                .contains("the earliest restorable point is " + oldestKept.stopTime());

        Instant windowStart = prunedAt.minus(Duration.ofDays(2));
        Path target = dir.resolve("restored");
        int port = TestDirs.freePort();
        var r = pgwarden.cli("restore", "--target-time", windowStart.toString(), "--target-dir", target.toString(), "--start", "--port",
                Integer.toString(port), "--archive-mode", "off");
        try {
            assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
            assertThat(r.stdout()).containsPattern("base backup:\\s+" + backups[2]);
            // Batches 1 to 3 were committed on days 0 to 2, before the window's start; batch 4 (day 3) after it.
            assertThat(new Psql("127.0.0.1", port, "unused").query("postgres", "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM"
                    + " (SELECT batch, count(*) n FROM t GROUP BY batch) s")).isEqualTo("1:10,2:10,3:10");
        } finally {
            Processes.asPostgres(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", target.toString(), "-m", "fast", "-w", "stop");
        }
    }
}
