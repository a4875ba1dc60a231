package io.pgwarden.repository;

import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.config.RepositoryConfig.Compression;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageDriver.ObjectInfo;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * WAL files in the repository: one object per file, {cluster}/wal/{timeline}/{name}.{codec}, with the raw
 * SHA-256 and size as object metadata. A file written with another codec (the config changed) is still found.
 */
public final class WalRepository {
    static final String META_SHA256 = "sha256";
    static final String META_RAW_SIZE = "raw-size";
    static final String META_CODEC = "codec";

    private final StorageDriver storage;
    private final Compression compression;

    public WalRepository(StorageDriver storage, RepositoryConfig config) {
        this.storage = storage;
        this.compression = config.compression();
    }

    public record StoredWal(String key, Compression compression, long rawSize, String sha256) {
    }

    public Optional<StoredWal> find(String cluster, WalFileName name) {
        String preferred = RepositoryLayout.walKey(cluster, name, compression);
        Optional<ObjectInfo> info = storage.stat(preferred);
        if (info.isEmpty()) info = otherEncoding(cluster, name).flatMap(k -> storage.stat(k));
        return info.map(this::describe);
    }

    /** Stores an encoded WAL file whose raw checksum and size are already known. */
    public void store(String cluster, WalFileName name, StorageDriver.SizedContent encoded, long rawSize, String sha256) {
        storage.put(RepositoryLayout.walKey(cluster, name, compression), encoded, Map.of(
                META_SHA256, sha256,
                META_RAW_SIZE, Long.toString(rawSize),
                META_CODEC, compression.name().toLowerCase()));
    }

    public Optional<VerifiedObject> open(String cluster, WalFileName name) {
        Optional<StorageDriver.StoredObject> object = storage.get(RepositoryLayout.walKey(cluster, name, compression));
        if (object.isEmpty()) object = otherEncoding(cluster, name).flatMap(storage::get);
        return object.map(o -> {
            StoredWal wal = describe(o.info());
            return new VerifiedObject(o, wal.compression(), wal.rawSize(), wal.sha256());
        });
    }

    private Optional<String> otherEncoding(String cluster, WalFileName name) {
        String prefix = RepositoryLayout.walNamePrefix(cluster, name);
        try (Stream<ObjectInfo> found = storage.list(prefix)) {
            return found.map(ObjectInfo::key)
                    .filter(k -> Compression.forSuffix(k.substring(prefix.length())).isPresent())
                    .findFirst();
        }
    }

    private StoredWal describe(ObjectInfo info) {
        String key = info.key();
        Compression codec = Compression.forSuffix(key.substring(key.lastIndexOf('.') + 1))
                .orElseThrow(() -> PgwardenException.integrity("repository object '" + key + "' has an unknown codec suffix"));
        String sha = info.metadata().get(META_SHA256);
        String size = info.metadata().get(META_RAW_SIZE);
        if (sha == null || size == null) {
            throw PgwardenException.integrity("repository object '" + key + "' has no recorded sha256/raw-size metadata");
        }
        try {
            return new StoredWal(key, codec, Long.parseLong(size), sha);
        } catch (NumberFormatException e) {
            throw PgwardenException.integrity("repository object '" + key + "' has an invalid raw-size '" + size + "'");
        }
    }
}
