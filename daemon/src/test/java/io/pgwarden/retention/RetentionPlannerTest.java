package io.pgwarden.retention;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.config.RetentionConfig;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.retention.RetentionPlan.Deletion;
import io.pgwarden.retention.RetentionPlan.Kind;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** The planner over generated catalogs with a fixed clock: each policy, each invariant, GFS period edges, time zones. */
public class RetentionPlannerTest {
    static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");
    static final RetentionConfig.Gfs NO_COUNTS = new RetentionConfig.Gfs(0, 0, 0, 0);

    /** Daily base backups at 02:00 UTC for the last {@code days} days, each starting in its own WAL segment. */
    static List<BaseBackupManifest> dailyBackups(int days) {
        List<BaseBackupManifest> out = new ArrayList<>();
        for (int i = days; i >= 1; i--) {
            Instant start = NOW.minus(Duration.ofDays(i)).minus(Duration.ofHours(10));
            out.add(backup("b" + (days - i), start, 1, 0x10L * (days - i + 1)));
        }
        return out;
    }

    static BaseBackupManifest backup(String id, Instant start, int timeline, long segment) {
        String wal = "%08X%08X%08X".formatted(timeline, segment >>> 8, segment & 0xff);
        return new BaseBackupManifest(1, id, "main", "l", "0/0", "0/0", timeline, wal, wal, null, start, start.plusSeconds(600),
                150000, "1", "15", "k", "zstd", 100, 40, "sha", null, null, null, null, null);
    }

    static DumpManifest dump(String id, String database, Instant stop) {
        return new DumpManifest(1, id, "main", database, "custom", 0, stop.minusSeconds(60), stop, 150000, "15", "k", "zstd", 10, 5, "sha", null, null);
    }

    static RetentionConfig base(Integer keepLast, Duration window) {
        return new RetentionConfig(keepLast == null ? OptionalInt.empty() : OptionalInt.of(keepLast), Optional.ofNullable(window), NO_COUNTS,
                Optional.empty(), ZoneId.of("UTC"));
    }

    static RetentionConfig dumps(RetentionConfig.Gfs gfs, Duration maxAge, String zone) {
        return new RetentionConfig(OptionalInt.empty(), Optional.empty(), gfs, Optional.ofNullable(maxAge), ZoneId.of(zone));
    }

    static RetentionPlan plan(List<BaseBackupManifest> backups, List<DumpManifest> dumps, RetentionConfig policy) {
        return RetentionPlanner.plan(new RetentionPlanner.Catalog("main", backups, dumps, List.of()), policy, NOW);
    }

    static List<String> deleted(RetentionPlan plan, Kind kind) {
        return plan.deletions().stream().filter(d -> d.kind() == kind).map(Deletion::id).sorted().toList();
    }

    @Test
    void keepLastDeletesTheOlderBackupsAndTheWalBeforeTheOldestKept() {
        RetentionPlan plan = plan(dailyBackups(5), List.of(), base(2, null));
        assertThat(deleted(plan, Kind.BASE)).containsExactly("b0", "b1", "b2");
        assertThat(plan.deletions().get(0).reason()).isEqualTo("not among the 2 newest");
        assertThat(plan.walBefore().orElseThrow().walFile()).isEqualTo("000000010000000000000040"); // b3's start
    }

    /** keepLast 1 keeps the newest backup, an incremental: the incremental and the full backups it builds on stay. */
    @Test
    void aKeptIncrementalBackupKeepsItsWholeChain() {
        List<BaseBackupManifest> backups = new java.util.ArrayList<>(dailyBackups(4)); // b0..b3, full
        BaseBackupManifest b3 = backups.get(3);
        BaseBackupManifest i4 = incremental(backup("i4", b3.startTime().plus(Duration.ofDays(1)), 1, 0x50), "b3");
        BaseBackupManifest i5 = incremental(backup("i5", b3.startTime().plus(Duration.ofDays(2)), 1, 0x60), "i4");
        backups.addAll(List.of(i4, i5));
        RetentionPlan plan = plan(backups, List.of(), base(1, null));
        assertThat(deleted(plan, Kind.BASE)).containsExactly("b0", "b1", "b2");
        assertThat(plan.walBefore().orElseThrow().walFile()).isEqualTo(b3.startWalFile());
    }

    /** A manifest whose parent is itself (edited, or corrupt) must not hang the planner. */
    @Test
    void anIncrementalNamingItselfAsParentDoesNotLoop() {
        List<BaseBackupManifest> backups = new java.util.ArrayList<>(dailyBackups(2));
        backups.add(incremental(backup("i2", backups.get(1).startTime().plus(Duration.ofDays(1)), 1, 0x50), "i2"));
        RetentionPlan plan = plan(backups, List.of(), base(1, null));
        assertThat(deleted(plan, Kind.BASE)).containsExactly("b0", "b1");
    }

    public static BaseBackupManifest incremental(BaseBackupManifest b, String parent) {
        return new BaseBackupManifest(b.formatVersion(), b.backupId(), b.cluster(), b.label(), b.startLsn(), b.stopLsn(), b.timeline(),
                b.startWalFile(), b.stopWalFile(), b.backupHistoryFile(), b.startTime(), b.stopTime(), b.pgVersionNum(), b.systemIdentifier(),
                b.toolVersion(), b.dataKey(), b.compression(), b.rawBytes(), b.storedBytes(), b.sha256(), b.encryption(), b.backupManifest(),
                BaseBackupManifest.INCREMENTAL, parent, b.storedSha256());
    }

    @Test
    void aWindowKeepsEveryBackupInsideItAndTheNewestBeforeIt() {
        // backups b0..b4 ended at 02:10 on Nov 20..24; NOW-60h is Nov 23 00:00: b3 and b4 inside, b2 the newest before it
        RetentionPlan plan = plan(dailyBackups(5), List.of(), base(null, Duration.ofHours(60)));
        assertThat(deleted(plan, Kind.BASE)).containsExactly("b0", "b1");
        assertThat(plan.walBefore().orElseThrow().walFile()).isEqualTo("000000010000000000000030"); // b2's start
    }

    @Test
    void keepLastAndWindowTogetherKeepWhatEitherKeeps() {
        RetentionPlan plan = plan(dailyBackups(6), List.of(), base(4, Duration.ofHours(12)));
        assertThat(deleted(plan, Kind.BASE)).containsExactly("b0", "b1");
    }

    @Test
    void theNewestBackupStaysWhenTheWindowHasPassedItLongAgo() {
        RetentionPlan plan = plan(dailyBackups(3), List.of(), base(null, Duration.ofMinutes(1)));
        assertThat(deleted(plan, Kind.BASE)).containsExactly("b0", "b1");
        assertThat(plan.walBefore().orElseThrow().walFile()).isEqualTo("000000010000000000000030");
    }

    @Test
    void withoutABaseRuleNothingAndNoWalIsDeleted() {
        RetentionPlan plan = plan(dailyBackups(3), List.of(), RetentionConfig.keepAll());
        assertThat(plan.isEmpty()).isTrue();
    }

    @Test
    void noBackupMeansNoWalDeletion() {
        assertThat(plan(List.of(), List.of(), base(1, null)).walBefore()).isEmpty();
    }

    @Test
    void theWalCutoffIsTheLowestStartOfWhatStaysAcrossTimelines() {
        Instant t = NOW.minus(Duration.ofDays(3));
        var b0 = backup("b0", t, 1, 0x10);
        var b1 = backup("b1", t.plus(Duration.ofDays(1)), 2, 0x30); // after a promotion to timeline 2
        var b2 = backup("b2", t.plus(Duration.ofDays(2)), 2, 0x50);
        RetentionPlan plan = plan(List.of(b0, b1, b2), List.of(), base(2, null));
        assertThat(deleted(plan, Kind.BASE)).containsExactly("b0");
        assertThat(plan.walBefore().orElseThrow().walFile()).isEqualTo("000000020000000000000030");
    }

    @Test
    void dailyCountsKeepTheNewestDumpOfEachOfTheLastDaysThatHaveOne() {
        List<DumpManifest> d = List.of(
                dump("d1", "app", Instant.parse("2026-11-22T01:00:00Z")),
                dump("d2", "app", Instant.parse("2026-11-22T23:00:00Z")),
                dump("d3", "app", Instant.parse("2026-11-24T01:00:00Z")),
                dump("d4", "app", Instant.parse("2026-11-24T05:00:00Z")),
                dump("d5", "app", Instant.parse("2026-11-25T01:00:00Z")));
        RetentionPlan plan = plan(List.of(), d, dumps(new RetentionConfig.Gfs(2, 0, 0, 0), null, "UTC"));
        assertThat(deleted(plan, Kind.DUMP)).containsExactly("d1", "d2", "d3");
        assertThat(plan.deletions().get(0).reason()).startsWith("not the newest of a day, week, month or year the counts keep");
    }

    @Test
    void daysBeginInTheConfiguredTimeZone() {
        // 23:30 UTC on the 23rd is already the 24th in Berlin (+01:00): one day with two dumps there, two days in UTC.
        List<DumpManifest> d = List.of(dump("d1", "app", Instant.parse("2026-11-23T23:30:00Z")),
                dump("d2", "app", Instant.parse("2026-11-24T10:00:00Z")));
        assertThat(deleted(plan(List.of(), d, dumps(new RetentionConfig.Gfs(2, 0, 0, 0), null, "UTC")), Kind.DUMP)).isEmpty();
        assertThat(deleted(plan(List.of(), d, dumps(new RetentionConfig.Gfs(2, 0, 0, 0), null, "Europe/Berlin")), Kind.DUMP))
                .containsExactly("d1");
    }

    @Test
    void weeksAreIsoWeeksFromMondayAndMonthsAndYearsTheirCalendarOnes() {
        List<DumpManifest> d = List.of(
                dump("y2024", "app", Instant.parse("2024-12-31T12:00:00Z")),   // 2025-W01 in ISO terms, year 2024
                dump("sun", "app", Instant.parse("2026-11-22T12:00:00Z")),     // Sunday, week 47
                dump("mon", "app", Instant.parse("2026-11-23T12:00:00Z")),     // Monday, week 48
                dump("oct", "app", Instant.parse("2026-10-31T23:00:00Z")),     // last of October
                dump("nov", "app", Instant.parse("2026-11-24T12:00:00Z")));    // newest, week 48, November
        assertThat(deleted(plan(List.of(), d, dumps(new RetentionConfig.Gfs(0, 2, 0, 0), null, "UTC")), Kind.DUMP))
                .containsExactly("mon", "oct", "y2024");
        assertThat(deleted(plan(List.of(), d, dumps(new RetentionConfig.Gfs(0, 0, 2, 0), null, "UTC")), Kind.DUMP))
                .containsExactly("mon", "sun", "y2024");
        assertThat(deleted(plan(List.of(), d, dumps(new RetentionConfig.Gfs(0, 0, 0, 2), null, "UTC")), Kind.DUMP))
                .containsExactly("mon", "oct", "sun");
    }

    @Test
    void maxAgeRemovesOldDumpsButNeverADatabasesNewest() {
        List<DumpManifest> d = List.of(dump("a1", "app", NOW.minus(Duration.ofDays(40))), dump("a2", "app", NOW.minus(Duration.ofDays(2))),
                dump("o1", "old", NOW.minus(Duration.ofDays(90))), dump("g1", null, NOW.minus(Duration.ofDays(40))),
                dump("g2", null, NOW.minus(Duration.ofDays(1))));
        RetentionPlan plan = plan(List.of(), d, dumps(NO_COUNTS, Duration.ofDays(30), "UTC"));
        assertThat(deleted(plan, Kind.DUMP)).containsExactly("a1");
        assertThat(deleted(plan, Kind.GLOBALS)).containsExactly("g1");
        assertThat(plan.deletions().get(0).reason()).isEqualTo("older than maxAge 30d");
    }

    @Test
    void onlyTheNewestFiftyTestRestoreRecordsStay() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 53; i++) ids.add("20261%03dT000000Z-aaaa".formatted(i));
        RetentionPlan plan = RetentionPlanner.plan(new RetentionPlanner.Catalog("main", List.of(), List.of(), ids), RetentionConfig.keepAll(), NOW);
        assertThat(deleted(plan, Kind.RESTORE_TEST)).containsExactly(ids.get(0), ids.get(1), ids.get(2));
    }

    @Test
    void underObjectLockNothingStillLockedIsPlannedAndItsWalStays() {
        // Backups ended Nov 20..24 at 02:10; a 3-day lock plus the planner's 1-day margin holds everything written after Nov 21 12:00.
        var catalog = new RetentionPlanner.Catalog("main", dailyBackups(5), List.of(
                dump("old", "app", Instant.parse("2026-11-01T01:00:00Z")),
                dump("locked", "app", Instant.parse("2026-11-23T01:00:00Z")),
                dump("newest", "app", Instant.parse("2026-11-25T01:00:00Z"))), List.of());
        RetentionConfig policy = new RetentionConfig(OptionalInt.of(1), Optional.empty(), new RetentionConfig.Gfs(1, 0, 0, 0),
                Optional.empty(), ZoneId.of("UTC"));
        RetentionPlan plan = RetentionPlanner.plan(catalog, policy, Duration.ofDays(3), NOW);
        assertThat(deleted(plan, Kind.BASE)).containsExactly("b0", "b1");
        assertThat(deleted(plan, Kind.DUMP)).containsExactly("old");
        // b2 is locked, so it stays a backup and the WAL from its start stays with it.
        assertThat(plan.walBefore().orElseThrow().walFile()).isEqualTo("000000010000000000000030");
        assertThat(plan.walBefore().orElseThrow().writtenBefore()).contains(NOW.minus(Duration.ofDays(4)));

        RetentionPlan unlocked = RetentionPlanner.plan(catalog, policy, Duration.ZERO, NOW);
        assertThat(deleted(unlocked, Kind.BASE)).containsExactly("b0", "b1", "b2", "b3");
        assertThat(deleted(unlocked, Kind.DUMP)).containsExactly("locked", "old");
        assertThat(unlocked.walBefore().orElseThrow().writtenBefore()).isEmpty();
    }
}
