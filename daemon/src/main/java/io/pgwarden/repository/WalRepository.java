package io.pgwarden.repository;

import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.config.RepositoryConfig.Compression;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageDriver.ObjectInfo;
import java.util.Map;
import java.util.Optional;

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

    /**
     * The stored file, looked up by key: the configured codec's first, then each other codec's (a file written
     * before the config changed). At most three HEADs, never a listing: the cost does not grow with the archive.
     */
    public Optional<StoredWal> find(String cluster, WalFileName name) {
        for (Compression codec : lookupOrder()) {
            Optional<ObjectInfo> info = storage.stat(RepositoryLayout.walKey(cluster, name, codec));
            if (info.isPresent()) return info.map(this::describe);
        }
        return Optional.empty();
    }

    /**
     * Stores an encoded WAL file whose raw checksum and size are already known, unless the name is archived already
     * (by a racing push or another daemon): then nothing is written and this returns false.
     */
    public boolean create(String cluster, WalFileName name, StorageDriver.SizedContent encoded, long rawSize, String sha256) {
        return storage.create(RepositoryLayout.walKey(cluster, name, compression), encoded, Map.of(
                META_SHA256, sha256,
                META_RAW_SIZE, Long.toString(rawSize),
                META_CODEC, compression.name().toLowerCase()));
    }

    public Optional<VerifiedObject> open(String cluster, WalFileName name) {
        for (Compression codec : lookupOrder()) {
            Optional<StorageDriver.StoredObject> object = storage.get(RepositoryLayout.walKey(cluster, name, codec));
            if (object.isPresent()) {
                StorageDriver.StoredObject o = object.get();
                try {
                    StoredWal wal = describe(o.info());
                    return Optional.of(new VerifiedObject(o, wal.compression(), wal.rawSize(), wal.sha256()));
                } catch (RuntimeException e) {
                    o.close();
                    throw e;
                }
            }
        }
        return Optional.empty();
    }

    private java.util.List<Compression> lookupOrder() {
        java.util.List<Compression> order = new java.util.ArrayList<>(java.util.List.of(Compression.values()));
        order.remove(compression);
        order.add(0, compression);
        return order;
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
