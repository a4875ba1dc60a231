package io.pgwarden.repository;

import java.time.Instant;

/**
 * manifest.json of one dump, written after its data object: its presence is what makes the dump exist.
 * @param dumpId     the run's id (one run dumps the globals and each database under the same id)
 * @param database   the database dumped; null for the globals (roles, tablespaces) of pg_dumpall --globals-only
 * @param format     "custom" (pg_dump -Fc, for pg_restore) or "sql" (the globals, for psql)
 * @param encryption the key the data object is encrypted with; null when it is stored in clear
 * @param pgDumpCompression pg_dump's own -Z level (0 when the repository compresses, so data is compressed once)
 * @param sha256     SHA-256 of the raw dump; null in manifests that record {@code storedSha256} instead
 * @param storedSha256 SHA-256 of the data object as stored (compressed, encrypted); null in older manifests
 */
public record DumpManifest(int formatVersion, String dumpId, String cluster, String database, String format, int pgDumpCompression,
                           Instant startTime, Instant stopTime, int pgVersionNum, String toolVersion,
                           String dataKey, String compression, long rawBytes, long storedBytes, String sha256,
                           Sealed encryption, String storedSha256) {
    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean isGlobals() {
        return database == null;
    }
}
