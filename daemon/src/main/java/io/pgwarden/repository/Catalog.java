package io.pgwarden.repository;

import io.pgwarden.error.PgwardenException;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageDriver.ObjectInfo;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * What the repository holds for a cluster, read from the repository alone (it is self-describing):
 * committed base backups (those with a manifest) and the archived WAL per timeline. The WAL listing is
 * streamed and folded into one range per timeline, so memory does not grow with the number of segments.
 */
public final class Catalog {
    private final StorageDriver storage;

    public Catalog(StorageDriver storage) {
        this.storage = storage;
    }

    public record TimelineWal(int timeline, String firstSegment, String lastSegment, long segments, long storedBytes) {
    }

    /**
     * @param earliestRestorable the end of the oldest committed backup: no point before it can be restored (null: no backup)
     * @param latestWalFile      the newest archived segment on the newest timeline: recovery can replay up to its end
     */
    public record Listing(String cluster, List<BaseBackupManifest> baseBackups, List<DumpManifest> dumps, List<TimelineWal> wal,
                          java.time.Instant earliestRestorable, String latestWalFile) {
    }

    public Listing list(String cluster) {
        List<BaseBackupManifest> backups = baseBackups(cluster);
        List<TimelineWal> wal = wal(cluster);
        return new Listing(cluster, backups, dumps(cluster), wal, backups.isEmpty() ? null : backups.get(0).stopTime(),
                wal.isEmpty() ? null : wal.get(wal.size() - 1).lastSegment());
    }

    /** Committed base backups, oldest first. A backup directory without manifest.json is not a backup. */
    public List<BaseBackupManifest> baseBackups(String cluster) {
        List<BaseBackupManifest> out = new ArrayList<>();
        try (Stream<ObjectInfo> objects = storage.list(RepositoryLayout.baseRoot(cluster))) {
            objects.map(ObjectInfo::key).filter(k -> k.endsWith("/manifest.json"))
                    .forEach(k -> out.add(placed(k, readManifest(k, BaseBackupManifest.class, "base backup"),
                            m -> RepositoryLayout.baseBackupManifest(m.cluster(), m.backupId()))));
        }
        out.sort(Comparator.comparing(BaseBackupManifest::startTime));
        return out;
    }

    /** Committed dumps (globals and databases), oldest run first, globals first within a run. */
    public List<DumpManifest> dumps(String cluster) {
        List<DumpManifest> out = new ArrayList<>();
        for (String prefix : List.of(RepositoryLayout.globalsRoot(cluster), RepositoryLayout.dumpRoot(cluster))) {
            try (Stream<ObjectInfo> objects = storage.list(prefix)) {
                objects.map(ObjectInfo::key).filter(k -> k.endsWith("/manifest.json"))
                        .forEach(k -> out.add(placed(k, readManifest(k, DumpManifest.class, "dump"), m -> m.isGlobals()
                                ? RepositoryLayout.globalsManifest(m.cluster(), m.dumpId())
                                : RepositoryLayout.dumpManifest(m.cluster(), m.database(), m.dumpId()))));
            }
        }
        out.sort(Comparator.comparing(DumpManifest::dumpId).thenComparing(d -> d.database() == null ? "" : "~" + d.database()));
        return out;
    }

    /** A test restore's record, as TestRestoreService wrote it. */
    public java.util.Optional<RestoreTestRecord> restoreTest(String cluster, String id) {
        String key = RepositoryLayout.restoreTestRecord(cluster, id);
        return storage.stat(key).map(o -> readManifest(key, RestoreTestRecord.class, "test restore record"));
    }

    /**
     * A manifest must lie where its own cluster and id say: one copied from another cluster or backup (whose data
     * would authenticate under its own key) is refused instead of being listed as this one.
     */
    private static <T> T placed(String key, T manifest, java.util.function.Function<T, String> expectedKey) {
        String expected;
        try {
            expected = expectedKey.apply(manifest);
        } catch (RuntimeException e) {
            expected = null;
        }
        if (!key.equals(expected)) {
            throw PgwardenException.integrity("repository object '" + key + "' is a manifest of another place ('" + expected + "')").forObject(key);
        }
        return manifest;
    }

    private <T> T readManifest(String key, Class<T> type, String what) {
        try (var object = storage.get(key).orElseThrow(() -> PgwardenException.notFound("repository object '" + key + "' disappeared"))) {
            return RepositoryJson.MAPPER.readValue(object.content(), type);
        } catch (IOException e) {
            throw PgwardenException.integrity("repository object '" + key + "' is not a valid " + what + " manifest: " + e.getMessage()).forObject(key);
        }
    }

    /**
     * When the newest run of a kind (base or dump) started, successful or not, read from the run ids in object keys:
     * this is how a restarted daemon knows whether it missed a scheduled time.
     */
    public java.util.Optional<java.time.Instant> lastRunStart(String cluster, String kind) {
        String runs = switch (kind) {
            case "base", "incremental" -> RepositoryLayout.baseRoot(cluster); // a backup of either kind is a run of the schedule
            case "restore-test" -> RepositoryLayout.restoreTestRoot(cluster);
            default -> RepositoryLayout.globalsRoot(cluster);
        };
        java.util.Optional<java.time.Instant> newest = java.util.Optional.empty();
        for (String prefix : List.of(runs, cluster + "/failures/" + kind + "/")) {
            try (Stream<ObjectInfo> objects = storage.list(prefix)) {
                java.util.Optional<java.time.Instant> last = objects.map(o -> o.key().substring(prefix.length()))
                        .map(RunIds::startedAt).flatMap(java.util.Optional::stream).max(Comparator.naturalOrder());
                if (last.isPresent() && (newest.isEmpty() || last.get().isAfter(newest.get()))) newest = last;
            }
        }
        return newest;
    }

    /** Segment files per timeline (history and .backup files are not counted as segments). */
    public List<TimelineWal> wal(String cluster) {
        Map<Integer, TimelineWal> ranges = new TreeMap<>();
        String prefix = cluster + "/wal/";
        try (Stream<ObjectInfo> objects = storage.list(prefix)) {
            objects.forEach(o -> {
                String name = o.key().substring(o.key().lastIndexOf('/') + 1);
                int dot = name.indexOf('.');
                String base = dot < 0 ? name : name.substring(0, dot);
                if (base.length() != 24 || name.indexOf('.', dot + 1) >= 0) return; // not a plain segment
                int timeline = Integer.parseUnsignedInt(base.substring(0, 8), 16);
                ranges.merge(timeline, new TimelineWal(timeline, base, base, 1, o.size()), (a, b) -> new TimelineWal(timeline,
                        a.firstSegment().compareTo(b.firstSegment()) <= 0 ? a.firstSegment() : b.firstSegment(),
                        a.lastSegment().compareTo(b.lastSegment()) >= 0 ? a.lastSegment() : b.lastSegment(),
                        a.segments() + b.segments(), a.storedBytes() + b.storedBytes()));
            });
        }
        return List.copyOf(ranges.values());
    }
}
