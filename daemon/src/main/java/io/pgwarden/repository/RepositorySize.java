package io.pgwarden.repository;

import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageDriver.ObjectInfo;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

/** Stored bytes of one cluster's objects by kind, summed over a streamed listing (memory stays flat however many). */
public final class RepositorySize {
    /** Every kind, in the order metrics list them; "records" is manifests-free metadata: cluster.json, failures, test restores. */
    public static final java.util.List<String> KINDS = java.util.List.of("base", "dump", "globals", "wal", "records");

    private RepositorySize() {
    }

    /** @param newestWal when the newest WAL object was written (empty: none) */
    public record Measurement(Map<String, Long> bytesByKind, java.util.Optional<java.time.Instant> newestWal) {
    }

    public static Measurement measure(StorageDriver storage, String cluster) {
        Map<String, Long> bytes = new LinkedHashMap<>();
        KINDS.forEach(k -> bytes.put(k, 0L));
        java.time.Instant[] newestWal = {null};
        String root = cluster + "/";
        try (Stream<ObjectInfo> objects = storage.list(root)) {
            objects.forEach(o -> {
                String kind = kindOf(o.key().substring(root.length()));
                bytes.merge(kind, o.size(), Long::sum);
                if (kind.equals("wal") && (newestWal[0] == null || o.lastModified().isAfter(newestWal[0]))) newestWal[0] = o.lastModified();
            });
        }
        return new Measurement(bytes, java.util.Optional.ofNullable(newestWal[0]));
    }

    /** The kind of a key relative to the cluster's root (see {@link RepositoryLayout}). */
    static String kindOf(String relative) {
        int slash = relative.indexOf('/');
        String top = slash < 0 ? "" : relative.substring(0, slash);
        return KINDS.contains(top) && !top.equals("records") ? top : "records";
    }
}
