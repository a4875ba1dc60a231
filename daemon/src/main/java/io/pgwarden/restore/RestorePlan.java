package io.pgwarden.restore;

import io.pgwarden.repository.BaseBackupManifest;
import java.time.Instant;

/**
 * What a restore will do, decided before a byte is written: which base backup, which timeline, and the WAL
 * files recovery will fetch (all present in the repository, without a gap).
 * @param timeline        the timeline recovery follows ("latest" resolved to a number)
 * @param firstWal        the backup's first WAL file
 * @param lastWal         the last WAL file recovery may need (the target's, or the newest archived)
 * @param walFiles        how many segment files lie between them on the timeline path
 * @param latestArchiveAt when the newest WAL file on the path was archived: nothing after it can be restored
 */
public record RestorePlan(String cluster, RestoreTarget target, BaseBackupManifest backup, int timeline, String firstWal,
                          String lastWal, long walFiles, long walStoredBytes, Instant latestArchiveAt) {
    public long bytesToDownload() {
        return backup.storedBytes() + walStoredBytes;
    }
}
