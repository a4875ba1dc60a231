package io.pgwarden.repository;

import io.pgwarden.repository.codec.Compression;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.storage.StorageDriver;
import java.util.Optional;

/**
 * Opens a backup's data object for reading, verified against the size and SHA-256 its manifest records, of the raw
 * content or of the object as stored (and, when encrypted, authenticated under the key its manifest names, bound to
 * the object's key). A manifest that records neither is refused.
 */
public final class BackupObjects {
    private BackupObjects() {
    }

    public static VerifiedObject openBase(StorageDriver storage, Encoding encoding, BaseBackupManifest manifest) {
        String what = "base backup " + manifest.backupId();
        expectKey(manifest.dataKey(), RepositoryLayout.baseBackupDirectory(manifest.cluster(), manifest.backupId()), what);
        return open(storage, encoding, manifest.dataKey(), manifest.compression(), manifest.encryption(), manifest.rawBytes(),
                manifest.sha256(), manifest.storedSha256(), what);
    }

    /** PostgreSQL's backup_manifest of a base backup, stored beside its tar under the same key. */
    public static VerifiedObject openBasePgManifest(StorageDriver storage, Encoding encoding, BaseBackupManifest manifest) {
        String what = "the backup_manifest of base backup " + manifest.backupId();
        BaseBackupManifest.BackupManifestObject copy = manifest.backupManifest();
        if (copy == null) throw PgwardenException.notFound("base backup " + manifest.backupId() + " has no stored backup_manifest");
        expectKey(copy.key(), RepositoryLayout.baseBackupDirectory(manifest.cluster(), manifest.backupId()), what);
        return open(storage, encoding, copy.key(), manifest.compression(), manifest.encryption(), copy.rawBytes(), copy.sha256(), null, what);
    }

    public static VerifiedObject openDump(StorageDriver storage, Encoding encoding, DumpManifest manifest) {
        String what = "dump " + manifest.dumpId();
        String directory = manifest.isGlobals() ? RepositoryLayout.globalsDirectory(manifest.cluster(), manifest.dumpId())
                : RepositoryLayout.dumpDirectory(manifest.cluster(), manifest.database(), manifest.dumpId());
        expectKey(manifest.dataKey(), directory, what);
        return open(storage, encoding, manifest.dataKey(), manifest.compression(), manifest.encryption(), manifest.rawBytes(),
                manifest.sha256(), manifest.storedSha256(), what);
    }

    /**
     * A manifest names its data object; it must be one of its own run's objects. Otherwise an edited manifest could
     * point a restore at another backup's (or another cluster's) data, which would decrypt under its own key.
     */
    private static void expectKey(String dataKey, String directory, String what) {
        if (dataKey == null || !dataKey.startsWith(directory) || dataKey.indexOf('/', directory.length()) >= 0) {
            throw PgwardenException.integrity("the manifest of " + what + " names data object '" + dataKey
                    + "', which is not one of its own objects (under '" + directory + "')");
        }
    }

    private static VerifiedObject open(StorageDriver storage, Encoding encoding, String key, String codec, Sealed sealed,
                                       long rawBytes, String sha256, String storedSha256, String what) {
        Compression compression;
        try {
            compression = Compression.valueOf(codec.toUpperCase(java.util.Locale.ROOT)); // manifests record zstd, gzip, none
        } catch (IllegalArgumentException | NullPointerException e) {
            throw PgwardenException.integrity("the manifest of " + what + " names an unknown compression '" + codec + "'");
        }
        if (sha256 == null && storedSha256 == null) {
            throw PgwardenException.integrity("the manifest of " + what + " records no SHA-256 of its data object '" + key + "'");
        }
        StorageDriver.StoredObject object = storage.getWhole(key).orElseThrow(() -> PgwardenException.integrity(
                "repository object '" + key + "' of " + what + " is missing although its manifest exists"));
        return new VerifiedObject(object, encoding, compression, Optional.ofNullable(sealed), rawBytes, sha256, storedSha256);
    }
}
