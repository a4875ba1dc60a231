package io.pgwarden.retention;

import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageDriver.IncompleteUpload;
import io.pgwarden.storage.StorageDriver.ObjectInfo;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Finds and removes what no backup owns: a backup or dump directory without a committed manifest whose newest
 * object is older than the grace period (a run that died between its data and its manifest), and writes never
 * completed (S3 multipart uploads, filesystem temp files) begun before the grace period. A directory with a
 * deletion mark is retention's, not garbage. The grace period must exceed the longest backup: a run still writing
 * looks exactly like one that died. Runs of this process still in progress are skipped whatever their age.
 */
public final class GarbageCollector {
    private final StorageDriver storage;

    public GarbageCollector(StorageDriver storage) {
        this.storage = storage;
    }

    /** @param directory a backup's or dump's key prefix ending in '/', or the key an incomplete upload writes */
    public record Garbage(String directory, List<String> keys, Optional<IncompleteUpload> upload, long storedBytes, Instant newest) {
        public String describe() {
            return upload.map(u -> "a write never completed, begun " + u.initiated())
                    .orElse(keys.size() + " object(s) without a committed manifest, the newest written " + newest);
        }
    }

    /** Everything of a cluster that is garbage at {@code now}; {@code activeRuns}: run ids of this process still running. */
    public List<Garbage> find(String cluster, Instant now, Duration grace, Set<String> activeRuns) {
        Instant before = now.minus(grace);
        List<Garbage> found = new ArrayList<>();
        for (String root : RepositoryLayout.backupRoots(cluster)) {
            int depth = root.equals(RepositoryLayout.dumpRoot(cluster)) ? 2 : 1;
            Group group = new Group();
            try (Stream<ObjectInfo> objects = storage.list(root)) {
                objects.forEach(o -> {
                    String directory = directoryOf(root, o.key(), depth);
                    if (directory == null) return;
                    if (!directory.equals(group.directory)) {
                        group.flush(before, activeRuns, found::add);
                        group.start(directory);
                    }
                    group.add(o);
                });
            }
            group.flush(before, activeRuns, found::add);
        }
        try (Stream<IncompleteUpload> uploads = storage.incompleteUploads(cluster + "/")) {
            uploads.filter(u -> u.initiated().isBefore(before)).filter(u -> activeRuns.stream().noneMatch(id -> u.key().contains("/" + id + "/")))
                    .forEach(u -> found.add(new Garbage(u.key(), List.of(), Optional.of(u), 0, u.initiated())));
        }
        return found;
    }

    /** Removes what {@link #find} returned; @return objects and bytes removed */
    public RetentionExecutor.Result remove(List<Garbage> garbage) {
        RetentionExecutor.Result done = new RetentionExecutor.Result(0, 0);
        for (Garbage g : garbage) {
            if (g.upload().isPresent()) {
                storage.abort(g.upload().get());
                done = done.plus(1, 0);
            } else {
                storage.deleteAll(g.keys());
                done = done.plus(g.keys().size(), g.storedBytes());
            }
        }
        return done;
    }

    /** The run directory a key lies in ({root}{id}/ or {root}{database}/{id}/), or null for a key outside any. */
    private static String directoryOf(String root, String key, int depth) {
        int end = root.length();
        for (int i = 0; i < depth; i++) {
            end = key.indexOf('/', end) + 1;
            if (end == 0) return null;
        }
        return key.substring(0, end);
    }

    /** One run directory's objects as the listing passes them (listings are in key order, so a directory is contiguous). */
    private static final class Group {
        String directory;
        final List<String> keys = new ArrayList<>();
        long bytes;
        Instant newest = Instant.EPOCH;
        boolean owned; // a manifest (committed) or a deletion mark (retention's)

        void start(String dir) {
            directory = dir;
            keys.clear();
            bytes = 0;
            newest = Instant.EPOCH;
            owned = false;
        }

        void add(ObjectInfo o) {
            String name = o.key().substring(directory.length());
            if (name.equals("manifest.json") || name.equals(RetentionExecutor.MARK)) owned = true;
            keys.add(o.key());
            bytes += o.size();
            if (o.lastModified().isAfter(newest)) newest = o.lastModified();
        }

        void flush(Instant before, Set<String> activeRuns, Consumer<Garbage> found) {
            if (directory == null || owned || keys.isEmpty() || !newest.isBefore(before)) return;
            String id = directory.substring(directory.lastIndexOf('/', directory.length() - 2) + 1, directory.length() - 1);
            if (activeRuns.contains(id)) return;
            found.accept(new Garbage(directory, List.copyOf(keys), Optional.empty(), bytes, newest));
        }
    }
}
