package io.pgwarden.restore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.repository.codec.Compression;
import io.pgwarden.storage.FilesystemStorage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The planner over a real filesystem repository written the way the daemon writes it: manifests, WAL objects
 * (16 MiB segments; the planner reads names, sizes and times, and the content of history files), history files.
 */
class RestorePlannerTest {
    private static final String C = "main";
    private static final long SEG = 16L << 20;
    private static final Instant T0 = Instant.parse("2026-11-01T10:00:00Z");

    @TempDir
    Path dir;
    FilesystemStorage storage;
    RestorePlanner planner;

    @BeforeEach
    void repository() {
        storage = new FilesystemStorage(dir);
        storage.createRoot();
        RepositoryConfig config = new RepositoryConfig(RepositoryConfig.Type.FILESYSTEM, Optional.of(dir), Optional.empty(), Compression.NONE,
                0, Duration.ofHours(24), Optional.empty());
        planner = new RestorePlanner(storage, new WalRepository(storage, config));
    }

    /** A committed backup of timeline tli from segment start to stop (its stop LSN inside segment stop), ending at stopTime. */
    void backup(String id, int tli, long start, long stop, Instant stopTime) {
        String startWal = "%08X%08X%08X".formatted(tli, 0, start);
        RepositoryJson.write(storage, C + "/base/" + id + "/manifest.json", new BaseBackupManifest(1, id, C, "l",
                "0/%X".formatted(start * SEG + 0x28), "0/%X".formatted(stop * SEG + 0x100), tli, startWal, "%08X%08X%08X".formatted(tli, 0, stop),
                null, stopTime.minusSeconds(60), stopTime, 150000, "1", "15", C + "/base/" + id + "/base.tar.raw", "none", 1, 1, "x", null, null, null, null, null));
    }

    /** WAL segments first..last of timeline tli, each archived a minute after the previous, from T0. */
    void segments(int tli, long first, long last) throws Exception {
        for (long s = first; s <= last; s++) segment(tli, s, T0.plusSeconds(60 * s));
    }

    void segment(int tli, long s, Instant archivedAt) throws Exception {
        String key = C + "/wal/%08X/%08X%08X%08X.raw".formatted(tli, tli, 0, s);
        storage.put(key, new java.io.ByteArrayInputStream(new byte[] {1}), Map.of("sha256", "x", "raw-size", "1", "codec", "none"));
        Files.setLastModifiedTime(dir.resolve(key), FileTime.from(archivedAt));
    }

    void history(int tli, String text) throws Exception {
        byte[] content = text.getBytes(StandardCharsets.UTF_8);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        storage.put(C + "/wal/%08X/%08X.history.raw".formatted(tli, tli), new java.io.ByteArrayInputStream(content),
                Map.of("sha256", sha, "raw-size", Integer.toString(content.length), "codec", "none"));
    }

    RestorePlan plan(RestoreTarget target) {
        return planner.plan(C, target, Optional.empty(), OptionalInt.empty());
    }

    /** Until chains are combined, a restore starts from the newest full backup; an incremental one named is refused. */
    @Test
    void anIncrementalBackupIsRestoredWithTheBackupsItBuildsOn() throws Exception {
        fullThenIncremental("b1");
        // The newest backup before the target: the incremental one, with the backups it builds on, full first.
        RestorePlan chained = plan(new RestoreTarget.Latest());
        assertThat(chained.backup().backupId()).isEqualTo("i2");
        assertThat(chained.members()).extracting(BaseBackupManifest::backupId).containsExactly("b1", "i2");
        assertThat(chained.firstWal()).isEqualTo("000000010000000000000005");
        assertThat(chained.bytesToDownload()).isEqualTo(2 + chained.walStoredBytes());

        // Asked for by id, the full backup alone, recovery replaying the WAL since it.
        RestorePlan full = planner.plan(C, new RestoreTarget.Latest(), Optional.of("b1"), OptionalInt.empty());
        assertThat(full.members()).extracting(BaseBackupManifest::backupId).containsExactly("b1");
        assertThat(full.firstWal()).isEqualTo("000000010000000000000002");
    }

    /** Full backup b1 (segments 2-3), then i2 (5-6), incremental on {@code parent}; WAL 2-9 archived. */
    private void fullThenIncremental(String parent) throws Exception {
        backup("b1", 1, 2, 3, T0.plusSeconds(200));
        backup("i2", 1, 5, 6, T0.plusSeconds(400));
        BaseBackupManifest i2 = RepositoryJson.MAPPER.readValue(Files.readAllBytes(dir.resolve(C + "/base/i2/manifest.json")), BaseBackupManifest.class);
        RepositoryJson.write(storage, C + "/base/i2/manifest.json", io.pgwarden.retention.RetentionPlannerTest.incremental(i2, parent));
        segments(1, 2, 9);
    }

    /** An incremental backup whose parent is gone (deleted by hand) is no candidate, and refused by name. */
    @Test
    void anIncrementalWhoseParentIsMissingIsNotRestored() throws Exception {
        fullThenIncremental("gone");
        assertThat(planner.plan(C, new RestoreTarget.Latest(), Optional.empty(), OptionalInt.empty()).backup().backupId()).isEqualTo("b1");
        assertThatThrownBy(() -> planner.plan(C, new RestoreTarget.Latest(), Optional.of("i2"), OptionalInt.empty()))
                .hasMessageContaining("base backup i2 of cluster 'main' is incremental, and a backup it builds on (from gone) is missing");
    }

    @Test
    void latestPicksTheNewestBackupAndTheWholeChain() throws Exception {
        backup("b1", 1, 2, 3, T0.plusSeconds(200));
        backup("b2", 1, 5, 6, T0.plusSeconds(400));
        segments(1, 2, 9);
        RestorePlan plan = plan(new RestoreTarget.Latest());
        assertThat(plan.backup().backupId()).isEqualTo("b2");
        assertThat(plan.firstWal()).isEqualTo("000000010000000000000005");
        assertThat(plan.lastWal()).isEqualTo("000000010000000000000009");
        assertThat(plan.walFiles()).isEqualTo(5);
        assertThat(plan.timeline()).isEqualTo(1);
    }

    @Test
    void aTimeTargetTakesTheNewestBackupThatEndedBeforeIt() throws Exception {
        backup("b1", 1, 2, 3, T0.plusSeconds(200));
        backup("b2", 1, 5, 6, T0.plusSeconds(400));
        segments(1, 2, 9);
        assertThat(plan(new RestoreTarget.Time(T0.plusSeconds(399))).backup().backupId()).isEqualTo("b1");
        assertThat(plan(new RestoreTarget.Time(T0.plusSeconds(401))).backup().backupId()).isEqualTo("b2");
        assertThatThrownBy(() -> plan(new RestoreTarget.Time(T0.plusSeconds(100)))).isInstanceOfSatisfying(PgwardenException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND);
            assertThat(e.getMessage()).contains("the earliest restorable point is " + T0.plusSeconds(200)).contains("the end of base backup b1");
        });
    }

    @Test
    void anLsnTargetNeedsWalOnlyUpToItsSegment() throws Exception {
        backup("b1", 1, 2, 3, T0.plusSeconds(200));
        segments(1, 2, 5); // 6 and later never archived
        RestorePlan plan = plan(new RestoreTarget.Position(5 * SEG + 100));
        assertThat(plan.lastWal()).isEqualTo("000000010000000000000005");
        assertThat(plan.walFiles()).isEqualTo(4);
        assertThatThrownBy(() -> plan(new RestoreTarget.Position(7 * SEG))).isInstanceOfSatisfying(PgwardenException.class,
                e -> assertThat(e.getMessage()).contains("file '000000010000000000000006' is missing"));
    }

    @Test
    void aHoleInTheChainIsNamedWithTheLatestRestorablePointBeforeIt() throws Exception {
        backup("b1", 1, 2, 3, T0.plusSeconds(200));
        segments(1, 2, 4);
        segments(1, 6, 8);
        assertThatThrownBy(() -> plan(new RestoreTarget.Latest())).isInstanceOfSatisfying(PgwardenException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INTEGRITY);
            assertThat(e.getMessage()).contains("file '000000010000000000000005' is missing from the repository; base backup b1 needs every WAL file from 000000010000000000000002");
        });
    }

    @Test
    void aBackupWhoseOwnWalIsIncompleteIsAGap() throws Exception {
        backup("b1", 1, 2, 4, T0.plusSeconds(200));
        segments(1, 2, 3);
        assertThatThrownBy(() -> plan(new RestoreTarget.Latest())).isInstanceOfSatisfying(PgwardenException.class,
                e -> assertThat(e.getMessage()).contains("file '000000010000000000000004' is missing"));
    }

    @Test
    void theLatestTimelineIsFollowedThroughItsHistoryFromABackupOnTheParent() throws Exception {
        backup("b1", 1, 2, 3, T0.plusSeconds(200));
        segments(1, 2, 5);
        // Timeline 2 branched off inside segment 5: PostgreSQL copies that segment to the new timeline.
        history(2, "1\t0/%X\tno recovery target specified\n".formatted(5 * SEG + 0x1000));
        segments(2, 5, 7);
        RestorePlan plan = plan(new RestoreTarget.Latest());
        assertThat(plan.timeline()).isEqualTo(2);
        assertThat(plan.lastWal()).isEqualTo("000000020000000000000007");
        assertThat(plan.walFiles()).isEqualTo(3 + 3); // 2..4 on timeline 1, 5..7 on timeline 2
    }

    @Test
    void aBackupTakenOnABranchThatLeftThePathIsRefusedByName() throws Exception {
        segments(1, 2, 9);
        history(2, "1\t0/%X\tno recovery target specified\n".formatted(5 * SEG));
        segments(2, 5, 6);
        backup("late-on-1", 1, 7, 8, T0.plusSeconds(500)); // after timeline 2 left timeline 1
        backup("early", 1, 2, 3, T0.plusSeconds(200));
        assertThat(plan(new RestoreTarget.Latest()).backup().backupId()).isEqualTo("early");
        assertThatThrownBy(() -> planner.plan(C, new RestoreTarget.Latest(), Optional.of("late-on-1"), OptionalInt.empty()))
                .isInstanceOfSatisfying(PgwardenException.class, e -> assertThat(e.getMessage())
                        .isEqualTo("base backup late-on-1 (timeline 1) is not on the path of timeline 2"));
        // On timeline 1 itself, it is the newest.
        assertThat(planner.plan(C, new RestoreTarget.Latest(), Optional.empty(), OptionalInt.of(1)).backup().backupId()).isEqualTo("late-on-1");
    }

    @Test
    void aTargetInTheSameWholeSecondAsTheNewestFileIsCoveredButNotTheNextSecond() throws Exception {
        backup("b1", 1, 2, 3, T0.plusSeconds(200));
        segments(1, 2, 4);
        Instant stamped = Instant.parse("2026-11-01T11:00:04Z"); // S3 keeps LastModified in whole seconds
        segment(1, 5, stamped);
        assertThat(plan(new RestoreTarget.Time(stamped.plusMillis(900))).lastWal()).isEqualTo("000000010000000000000005");
        assertThatThrownBy(() -> plan(new RestoreTarget.Time(stamped.plusSeconds(1)))).isInstanceOfSatisfying(PgwardenException.class,
                e -> assertThat(e.getMessage()).contains("is later than the newest archived WAL").contains("file 000000010000000000000005"));
    }

    @Test
    void noBackupAndAnUnknownBackupAndAnUnknownTimelineAreNamed() throws Exception {
        assertThatThrownBy(() -> plan(new RestoreTarget.Latest())).hasMessage("cluster 'main' has no committed base backup to restore from");
        backup("b1", 1, 2, 3, T0.plusSeconds(200));
        segments(1, 2, 3);
        assertThatThrownBy(() -> planner.plan(C, new RestoreTarget.Latest(), Optional.of("nope"), OptionalInt.empty()))
                .hasMessage("cluster 'main' has no base backup 'nope' (have: b1)");
        assertThatThrownBy(() -> planner.plan(C, new RestoreTarget.Latest(), Optional.empty(), OptionalInt.of(3)))
                .hasMessage("cluster 'main' has no timeline 3 (no 00000003.history in the repository)");
    }
}
