package io.pgwarden.repository;

import java.time.Instant;

/**
 * manifest.json of a base backup: written after the data object and the WAL it needs are in the repository.
 * Its presence is what makes the backup exist. LSNs in PostgreSQL's text form.
 * @param encryption the key the data object is encrypted with; null when it is stored in clear
 */
public record BaseBackupManifest(int formatVersion, String backupId, String cluster, String label,
                                 String startLsn, String stopLsn, int timeline, String startWalFile, String stopWalFile,
                                 String backupHistoryFile, Instant startTime, Instant stopTime,
                                 int pgVersionNum, String systemIdentifier, String toolVersion,
                                 String dataKey, String compression, long rawBytes, long storedBytes, String sha256,
                                 Sealed encryption) {
}
