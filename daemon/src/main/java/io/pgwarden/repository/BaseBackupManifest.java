package io.pgwarden.repository;

import java.time.Instant;

/**
 * manifest.json of a base backup: written after the data object and the WAL it needs are in the repository.
 * Its presence is what makes the backup exist. LSNs in PostgreSQL's text form.
 * @param encryption the key the data object is encrypted with; null when it is stored in clear
 * @param backupManifest PostgreSQL's own backup_manifest of this backup, stored beside the data (encoded like it); null
 *                       for backups taken before pgwarden kept it, or without one
 * @param kind           "full", or "incremental" (only what changed since {@code parentId}; restorable with its chain);
 *                       null in manifests written before incremental backups existed: full
 * @param parentId       the backup an incremental one builds on (full or incremental); null for a full one
 * @param sha256         SHA-256 of the raw tar; null in manifests that record {@code storedSha256} instead
 * @param storedSha256   SHA-256 of the data object as stored (compressed, encrypted), recorded since pgwarden stopped
 *                       hashing the raw tar (a second of CPU per GB); null in older manifests
 */
public record BaseBackupManifest(int formatVersion, String backupId, String cluster, String label,
                                 String startLsn, String stopLsn, int timeline, String startWalFile, String stopWalFile,
                                 String backupHistoryFile, Instant startTime, Instant stopTime,
                                 int pgVersionNum, String systemIdentifier, String toolVersion,
                                 String dataKey, String compression, long rawBytes, long storedBytes, String sha256,
                                 Sealed encryption, BackupManifestObject backupManifest, String kind, String parentId, String storedSha256) {
    public static final String FULL = "full";
    public static final String INCREMENTAL = "incremental";

    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean isIncremental() {
        return INCREMENTAL.equals(kind);
    }

    /** The object that holds the backup's backup_manifest: its key, sizes and the SHA-256 of its raw bytes. */
    public record BackupManifestObject(String key, long rawBytes, long storedBytes, String sha256) {
    }
}
