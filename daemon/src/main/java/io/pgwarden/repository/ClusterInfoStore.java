package io.pgwarden.repository;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.storage.StorageDriver;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** Reads and pins cluster.json. Once pinned, the info never changes, so it is cached. */
public final class ClusterInfoStore {
    private static final ObjectMapper JSON = RepositoryJson.MAPPER;

    private final StorageDriver storage;
    private final Map<String, ClusterInfo> pinned = new ConcurrentHashMap<>();

    public ClusterInfoStore(StorageDriver storage) {
        this.storage = storage;
    }

    public Optional<ClusterInfo> get(String cluster) {
        ClusterInfo cached = pinned.get(cluster);
        if (cached != null) return Optional.of(cached);
        String key = RepositoryLayout.clusterInfo(cluster);
        Optional<StorageDriver.StoredObject> object = storage.get(key);
        if (object.isEmpty()) return Optional.empty();
        try (var o = object.get()) {
            ClusterInfo info = JSON.readValue(o.content(), ClusterInfo.class);
            info.systemIdentifierValue(); // validates the number
            pinned.put(cluster, info);
            return Optional.of(info);
        } catch (IOException | RuntimeException e) {
            throw PgwardenException.integrity("repository object '" + key + "' is not a valid cluster.json: " + e.getMessage()).forObject(key);
        }
    }

    /**
     * Writes the candidate unless the cluster is already pinned; returns what is pinned now. The write is a create:
     * when another daemon pinned the cluster first, its cluster.json stays and is what this returns.
     */
    public synchronized ClusterInfo pin(String cluster, ClusterInfo candidate) {
        Optional<ClusterInfo> existing = get(cluster);
        if (existing.isPresent()) return existing.get();
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(candidate);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        if (!storage.create(RepositoryLayout.clusterInfo(cluster), StorageDriver.SizedContent.of(json), Map.of())) {
            return get(cluster).orElseThrow(() -> PgwardenException.unavailable("repository object '" + RepositoryLayout.clusterInfo(cluster)
                    + "' was written by another daemon and is gone again; retry", null));
        }
        pinned.put(cluster, candidate);
        return candidate;
    }
}
