package io.pgwarden.repository;

import io.pgwarden.config.RepositoryConfig.Compression;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.storage.StorageDriver;

/** Opens a backup's data object for reading, verified against the size and SHA-256 its manifest records. */
public final class BackupObjects {
    private BackupObjects() {
    }

    public static VerifiedObject openBase(StorageDriver storage, BaseBackupManifest manifest) {
        return open(storage, manifest.dataKey(), manifest.compression(), manifest.rawBytes(), manifest.sha256(), "base backup " + manifest.backupId());
    }

    public static VerifiedObject openDump(StorageDriver storage, DumpManifest manifest) {
        return open(storage, manifest.dataKey(), manifest.compression(), manifest.rawBytes(), manifest.sha256(), "dump " + manifest.dumpId());
    }

    private static VerifiedObject open(StorageDriver storage, String key, String codec, long rawBytes, String sha256, String what) {
        Compression compression;
        try {
            compression = Compression.valueOf(codec.toUpperCase(java.util.Locale.ROOT)); // manifests record zstd, gzip, none
        } catch (IllegalArgumentException e) {
            throw PgwardenException.integrity("the manifest of " + what + " names an unknown compression '" + codec + "'");
        }
        StorageDriver.StoredObject object = storage.get(key).orElseThrow(() -> PgwardenException.integrity(
                "repository object '" + key + "' of " + what + " is missing although its manifest exists"));
        return new VerifiedObject(object, compression, rawBytes, sha256);
    }
}
