package io.pgwarden.restore;

import io.pgwarden.repository.BaseBackupManifest;
import java.time.Instant;

/**
 * What a restore will do, decided before a byte is written: which base backup, which timeline, and the WAL
 * files recovery will fetch (all present in the repository, without a gap).
 * @param backup          the backup recovery starts from; when incremental, combined with its {@code parents} first
 * @param parents         the backups an incremental {@code backup} builds on, the full one first; empty for a full backup
 * @param timeline        the timeline recovery follows ("latest" resolved to a number)
 * @param timelines       the timelines whose WAL recovery reads, oldest first: {@code timeline}'s ancestors, then it
 * @param firstWal        the backup's first WAL file
 * @param lastWal         the last WAL file recovery may need (the target's, or the newest archived)
 * @param walFiles        how many segment files lie between them on the timeline path
 * @param latestArchiveAt when the newest WAL file on the path was archived: nothing after it can be restored
 */
public record RestorePlan(String cluster, RestoreTarget target, BaseBackupManifest backup, java.util.List<BaseBackupManifest> parents,
                          int timeline, java.util.List<Integer> timelines, String firstWal, String lastWal, long walFiles, long walStoredBytes, Instant latestArchiveAt) {
    public RestorePlan {
        parents = java.util.List.copyOf(parents);
        timelines = java.util.List.copyOf(timelines);
    }

    /** Every backup to unpack, the full one first: pg_combinebackup's order. */
    public java.util.List<BaseBackupManifest> members() {
        java.util.List<BaseBackupManifest> all = new java.util.ArrayList<>(parents);
        all.add(backup);
        return all;
    }

    /** Every member's id in pg_combinebackup's order, e.g. "B1 + I2 + I3" (messages name the whole chain). */
    public String chainDescription() {
        return String.join(" + ", members().stream().map(BaseBackupManifest::backupId).toList());
    }

    /** The ids of the backups it builds on, the full one first (empty for a full backup). */
    public java.util.List<String> parentIds() {
        return parents.stream().map(BaseBackupManifest::backupId).toList();
    }

    /** The tar bytes the restore unpacks: every member's. */
    public long rawBytes() {
        return members().stream().mapToLong(BaseBackupManifest::rawBytes).sum();
    }

    public long bytesToDownload() {
        return members().stream().mapToLong(BaseBackupManifest::storedBytes).sum() + walStoredBytes;
    }
}
