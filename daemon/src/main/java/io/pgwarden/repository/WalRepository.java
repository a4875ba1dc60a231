package io.pgwarden.repository;

import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.repository.codec.Compression;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageDriver.ObjectInfo;
import java.util.Map;
import java.util.Optional;

/**
 * WAL files in the repository: one object per file, {cluster}/wal/{timeline}/{name}.{codec}, with the raw
 * SHA-256 and size (and, when encrypted, the key id) as object metadata. A file written with another codec (the config changed) is still found.
 */
public final class WalRepository {
    static final String META_SHA256 = "sha256";
    static final String META_RAW_SIZE = "raw-size";

    private final StorageDriver storage;
    private final Encoding encoding;
    private final Compression compression;

    /** Whether repository.json has been checked against the keyset (and written) since this process started. */
    private volatile boolean markerChecked;

    public WalRepository(StorageDriver storage, RepositoryConfig config) {
        this.storage = storage;
        this.encoding = Encoding.of(config);
        this.compression = config.compression();
    }

    /**
     * Checks repository.json against the configured encryption once, before this process writes its first object:
     * a daemon that started while the repository was unreachable must not write objects in clear into an encrypted
     * repository once it is back. Refusals (CONFIG) repeat on every write.
     */
    public void ensureMarkerChecked() {
        if (markerChecked) return;
        synchronized (this) {
            if (markerChecked) return;
            RepositoryMarker.check(storage, encoding, RepositoryMarker.Access.WRITE);
            markerChecked = true;
        }
    }

    /** How this repository encodes objects; shared by everything that reads or writes its data objects. */
    public Encoding encoding() {
        return encoding;
    }

    public record StoredWal(String key, Compression compression, Optional<Sealed> sealed, long rawSize, String sha256) {
    }

    /** The stream to write a WAL file's raw bytes into: encoded for the key {@link #create} will store it under. */
    public java.io.OutputStream encoder(String cluster, WalFileName name, java.io.OutputStream sink, int workers) throws java.io.IOException {
        return encoding.encoder(RepositoryLayout.walKey(cluster, name, compression), sink, workers);
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
        return createEncoded(key(cluster, name), encoded, metadata(rawSize, sha256));
    }

    /**
     * The file stored under the key a push writes now (the configured codec's): one HEAD, where {@link #find} makes one
     * per codec for a name not archived. Not looked for: a copy stored under another codec before the config changed,
     * which a synchronous push's conditional create does not see either.
     */
    public Optional<StoredWal> findUnderCurrentKey(String cluster, WalFileName name) {
        return storage.stat(key(cluster, name)).map(this::describe);
    }

    /** The key a new WAL file is stored under, the one {@link #encoder} encodes for. */
    public String key(String cluster, WalFileName name) {
        return RepositoryLayout.walKey(cluster, name, compression);
    }

    /** Whether key is where some codec stores this cluster's file (a spooled file's recorded key is checked so). */
    public static boolean isKeyOf(String key, String cluster, WalFileName name) {
        for (Compression codec : Compression.values()) {
            if (RepositoryLayout.walKey(cluster, name, codec).equals(key)) return true;
        }
        return false;
    }

    /** The metadata a WAL file encoded now is stored with: its raw size and checksum, and how it is sealed. */
    public Map<String, String> metadata(long rawSize, String sha256) {
        Map<String, String> metadata = encoding.metadata();
        metadata.put(META_SHA256, sha256);
        metadata.put(META_RAW_SIZE, Long.toString(rawSize));
        return metadata;
    }

    /** {@link #create}, for a file encoded earlier under key (a spooled one): the same conditional create. */
    public boolean createEncoded(String key, StorageDriver.SizedContent encoded, Map<String, String> metadata) {
        ensureMarkerChecked();
        return storage.create(key, encoded, metadata);
    }

    /** An encoded WAL file held elsewhere than in the repository (a spooled one), read as a stored object would be. */
    public VerifiedObject verified(StorageDriver.StoredObject object) {
        StoredWal stored = describe(object.info());
        return new VerifiedObject(object, encoding, stored.compression(), stored.sealed(), stored.rawSize(), stored.sha256());
    }

    /** What a WAL object's key and metadata say: codec, sealing, raw size and checksum; INTEGRITY when they make no sense. */
    public StoredWal describe(String key, Map<String, String> metadata) {
        return describe(new ObjectInfo(key, 0, metadata, java.time.Instant.EPOCH));
    }

    public Optional<VerifiedObject> open(String cluster, WalFileName name) {
        for (Compression codec : lookupOrder()) {
            Optional<StorageDriver.StoredObject> object = storage.get(RepositoryLayout.walKey(cluster, name, codec));
            if (object.isPresent()) {
                StorageDriver.StoredObject o = object.get();
                try {
                    StoredWal wal = describe(o.info());
                    return Optional.of(new VerifiedObject(o, encoding, wal.compression(), wal.sealed(), wal.rawSize(), wal.sha256()));
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
                .orElseThrow(() -> PgwardenException.integrity("repository object '" + key + "' has an unknown codec suffix").forObject(key));
        String sha = info.metadata().get(META_SHA256);
        String size = info.metadata().get(META_RAW_SIZE);
        if (sha == null || size == null) {
            throw PgwardenException.integrity("repository object '" + key + "' has no recorded sha256/raw-size metadata").forObject(key);
        }
        try {
            return new StoredWal(key, codec, Encoding.sealingOf(key, info.metadata()), Long.parseLong(size), sha);
        } catch (NumberFormatException e) {
            throw PgwardenException.integrity("repository object '" + key + "' has an invalid raw-size '" + size + "'").forObject(key);
        }
    }
}
