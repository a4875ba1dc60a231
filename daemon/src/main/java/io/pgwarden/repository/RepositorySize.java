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

    public static Map<String, Long> measure(StorageDriver storage, String cluster) {
        Map<String, Long> bytes = new LinkedHashMap<>();
        KINDS.forEach(k -> bytes.put(k, 0L));
        String root = cluster + "/";
        try (Stream<ObjectInfo> objects = storage.list(root)) {
            objects.forEach(o -> bytes.merge(kindOf(o.key().substring(root.length())), o.size(), Long::sum));
        }
        return bytes;
    }

    /** The kind of a key relative to the cluster's root (see {@link RepositoryLayout}). */
    static String kindOf(String relative) {
        int slash = relative.indexOf('/');
        String top = slash < 0 ? "" : relative.substring(0, slash);
        return KINDS.contains(top) && !top.equals("records") ? top : "records";
    }
}
