package io.pgwarden.restore;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.Lsn;
import io.pgwarden.pg.TimelineHistory;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.repository.BackupChain;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.ClusterInfo;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.VerifiedObject;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageDriver.ObjectInfo;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;

/**
 * Decides a restore from the repository alone, before anything is written: the timeline (following .history
 * files), the newest base backup that ended before the target, and that every WAL file from the backup's start
 * to the target (or to the newest archived file) is present. Each refusal names what is wrong: the earliest
 * restorable point, the first missing WAL file, the latest restorable point.
 */
public final class RestorePlanner {
    private static final long DEFAULT_SEGMENT_SIZE = 16L << 20;
    /** PostgreSQL's timeline IDs are 32 bits; pushes refuse history files beyond what a server could write. */
    private static final int MAX_TIMELINE = Integer.MAX_VALUE;

    private final StorageDriver storage;
    private final WalRepository wal;
    private final Catalog catalog;
    private final ClusterInfoStore clusterInfo;

    public RestorePlanner(StorageDriver storage, WalRepository wal) {
        this.storage = storage;
        this.wal = wal;
        this.catalog = new Catalog(storage);
        this.clusterInfo = new ClusterInfoStore(storage);
    }

    /**
     * An incremental backup is a candidate, combined with the backups it builds on (every restore site runs
     * pg_combinebackup), when they are all in the repository.
     * @param backupId a specific backup instead of the newest suitable one
     * @param timeline a specific timeline; empty: the latest one in the repository
     */
    public RestorePlan plan(String cluster, RestoreTarget target, Optional<String> backupId, OptionalInt timeline) {
        List<BaseBackupManifest> backups = catalog.baseBackups(cluster);
        if (backups.isEmpty()) throw PgwardenException.notFound("cluster '" + cluster + "' has no committed base backup to restore from");
        long segmentSize = clusterInfo.get(cluster).map(ClusterInfo::segmentSize).orElse(DEFAULT_SEGMENT_SIZE);
        TimelineHistory path = history(cluster, timeline.isPresent() ? timeline.getAsInt() : latestTimeline(cluster, backups));
        Map<String, BaseBackupManifest> byId = new java.util.HashMap<>();
        for (BaseBackupManifest b : backups) byId.put(b.backupId(), b);
        Map<String, List<BaseBackupManifest>> parents = new java.util.HashMap<>(); // of the backups that can be restored
        for (BaseBackupManifest b : backups) {
            List<BaseBackupManifest> ancestors = BackupChain.ancestors(b, byId);
            if (BackupChain.complete(b, ancestors)) parents.put(b.backupId(), ancestors);
        }
        if (backupId.isPresent()) refuseBrokenChain(cluster, backupId.get(), backups, parents);
        List<BaseBackupManifest> candidates = backups.stream().filter(b -> !b.isIncremental() || parents.containsKey(b.backupId())).toList();
        BaseBackupManifest backup = chooseBackup(cluster, candidates, target, backupId, path);
        return walChain(cluster, target, backup, parents.getOrDefault(backup.backupId(), List.of()), path, segmentSize);
    }

    private BaseBackupManifest chooseBackup(String cluster, List<BaseBackupManifest> all, RestoreTarget target, Optional<String> id,
                                            TimelineHistory path) {
        // Why "on the path": a backup taken on a timeline after the target timeline branched away cannot reach it.
        List<BaseBackupManifest> onPath = all.stream().filter(b -> Lsn.parse(b.stopLsn()) <= path.endOf(b.timeline())).toList();
        if (id.isPresent()) {
            BaseBackupManifest b = all.stream().filter(m -> m.backupId().equals(id.get())).findFirst().orElseThrow(() ->
                    PgwardenException.notFound("cluster '" + cluster + "' has no base backup '" + id.get() + "' (have: "
                            + String.join(", ", all.stream().map(BaseBackupManifest::backupId).toList()) + ")"));
            if (!onPath.contains(b)) throw refused("base backup " + b.backupId() + " (timeline " + b.timeline() + ") is not on the path of timeline " + path.timeline());
            if (!endsBefore(b, target)) throw refused("base backup " + b.backupId() + " ended at " + b.stopTime() + " / " + b.stopLsn()
                    + ", not before the target " + target.describe());
            return b;
        }
        BaseBackupManifest earliest = onPath.isEmpty() ? all.get(0) : onPath.get(0);
        return onPath.stream().filter(b -> endsBefore(b, target)).max(Comparator.comparing(BaseBackupManifest::stopTime))
                .orElseThrow(() -> PgwardenException.notFound("no base backup of cluster '" + cluster + "' on timeline "
                        + path.timeline() + "'s path ended before the target " + target.describe() + "; the earliest restorable point is "
                        + earliest.stopTime() + " (LSN " + earliest.stopLsn() + ", the end of base backup " + earliest.backupId() + ")"));
    }

    /** An incremental backup's tar alone is no data directory: it is restored combined with every backup it builds on. */
    private static void refuseBrokenChain(String cluster, String id, List<BaseBackupManifest> all, Map<String, List<BaseBackupManifest>> parents) {
        all.stream().filter(b -> b.backupId().equals(id) && b.isIncremental()).findFirst().ifPresent(b -> {
            if (!parents.containsKey(id)) {
                throw refused("base backup " + id + " of cluster '" + cluster + "' is incremental, and a backup it builds on (from "
                        + b.parentId() + ") is missing from the repository");
            }
        });
    }

    /** A backup is consistent only from its end: the target must lie after it. */
    private static boolean endsBefore(BaseBackupManifest b, RestoreTarget target) {
        return switch (target) {
            case RestoreTarget.Time t -> b.stopTime().isBefore(t.at());
            case RestoreTarget.Position p -> Lsn.parse(b.stopLsn()) <= p.lsn();
            case RestoreTarget.Name n -> true;
            case RestoreTarget.Latest l -> true;
        };
    }

    /** Walks the WAL listing of each timeline on the path, oldest first, checking every segment is there. */
    private RestorePlan walChain(String cluster, RestoreTarget target, BaseBackupManifest backup, List<BaseBackupManifest> parents,
                                 TimelineHistory path, long segmentSize) {
        long startSegment = Lsn.parse(backup.startLsn()) / segmentSize;
        long targetSegment = target instanceof RestoreTarget.Position p ? p.lsn() / segmentSize : Long.MAX_VALUE;
        long stopSegment = (Lsn.parse(backup.stopLsn()) - 1) / segmentSize;
        List<Integer> timelines = new ArrayList<>();
        path.ancestors().forEach(s -> timelines.add(s.timeline()));
        timelines.add(path.timeline());
        long next = startSegment;
        ChainEnd end = null;
        for (int tli : timelines) {
            long lastOnTimeline = path.endOf(tli) == Long.MAX_VALUE ? Long.MAX_VALUE : path.endOf(tli) / segmentSize - 1;
            long last = Math.min(lastOnTimeline, targetSegment);
            if (last < next) continue; // the backup starts later, or the target lies before this timeline
            boolean bounded = last != Long.MAX_VALUE;
            ChainEnd found = walk(cluster, tli, next, last, bounded, segmentSize, backup);
            if (found != null) {
                end = new ChainEnd(found.lastSegment(), found.tli(), found.lastKey(), found.archivedAt(),
                        found.files() + (end == null ? 0 : end.files()), found.bytes() + (end == null ? 0 : end.bytes()));
                next = found.lastSegment() + 1;
            }
            if (last == targetSegment) break;
        }
        if (end == null || end.lastSegment() < Math.max(stopSegment, targetSegment == Long.MAX_VALUE ? stopSegment : targetSegment)) {
            String missing = Lsn.walFile(path.timelineOfSegment(next * segmentSize, segmentSize), next, segmentSize);
            throw gap(cluster, missing, backup, end);
        }
        String lastWal = Lsn.walFile(end.tli(), end.lastSegment(), segmentSize);
        // S3 keeps LastModified in whole seconds: a file stamped 10:00:04 may have been archived at 10:00:04.9, and a
        // target in that second is covered by it.
        Instant archivedBy = end.archivedAt().getNano() == 0 ? end.archivedAt().plusNanos(999_999_999) : end.archivedAt();
        if (target instanceof RestoreTarget.Time t && t.at().isAfter(archivedBy)) {
            throw PgwardenException.notFound("the target time " + t.at() + " is later than the newest archived WAL of cluster '" + cluster
                    + "' (file " + lastWal + ", archived at " + end.archivedAt() + "); the latest restorable point is " + end.archivedAt());
        }
        return new RestorePlan(cluster, target, backup, parents, path.timeline(), timelines, backup.startWalFile(), lastWal, end.files(),
                end.bytes(), end.archivedAt());
    }

    private record ChainEnd(long lastSegment, int tli, String lastKey, Instant archivedAt, long files, long bytes) {
    }

    /**
     * Segments first..last of one timeline, in key order; returns the contiguous run found (null if none).
     * A hole before {@code last} (when bounded) or before the newest file (when not) is a gap. The listing starts at
     * {@code first}: what a timeline archived before the backup is not read (a million segments, on a busy cluster).
     */
    private ChainEnd walk(String cluster, int tli, long first, long last, boolean bounded, long segmentSize, BaseBackupManifest backup) {
        String prefix = RepositoryLayout.walTimelinePrefix(cluster, tli);
        long expected = first;
        ObjectInfo lastSeen = null;
        long files = 0;
        long bytes = 0;
        try (Stream<ObjectInfo> objects = storage.list(prefix, prefix + Lsn.walFile(tli, first, segmentSize))) {
            for (var it = objects.iterator(); it.hasNext(); ) {
                ObjectInfo o = it.next();
                String name = o.key().substring(prefix.length());
                int dot = name.indexOf('.');
                if (dot != 24 || name.indexOf('.', dot + 1) >= 0) continue; // history, .backup, .partial
                long segment = segmentNumber(name.substring(0, 24), segmentSize);
                if (segment < expected) continue;
                if (segment > last) break;
                if (segment > expected) throw gap(cluster, Lsn.walFile(tli, expected, segmentSize), backup, null);
                lastSeen = o;
                files++;
                bytes += o.size();
                expected++;
            }
        }
        // A bounded run must reach its end: the rest of the path continues from there.
        if (bounded && expected <= last) throw gap(cluster, Lsn.walFile(tli, expected, segmentSize), backup, null);
        return lastSeen == null ? null : new ChainEnd(expected - 1, tli, lastSeen.key(), lastSeen.lastModified(), files, bytes);
    }

    private static long segmentNumber(String walFile, long segmentSize) {
        long perId = 0x1_0000_0000L / segmentSize;
        return Long.parseLong(walFile.substring(8, 16), 16) * perId + Long.parseLong(walFile.substring(16, 24), 16);
    }

    private static PgwardenException gap(String cluster, String missing, BaseBackupManifest backup, ChainEnd end) {
        return PgwardenException.integrity("WAL gap in cluster '" + cluster + "': file '" + missing + "' is missing from the repository; base backup "
                + backup.backupId() + " needs every WAL file from " + backup.startWalFile()
                + (end == null ? "" : "; the latest restorable point is the end of " + end.lastKey().substring(end.lastKey().lastIndexOf('/') + 1)));
    }

    private static PgwardenException refused(String message) {
        return new PgwardenException(ErrorCode.USAGE, message);
    }

    /**
     * The latest timeline as PostgreSQL finds it for recovery_target_timeline 'latest': from the newest timeline a
     * backup was taken on whose history file is archived (timelines above 1 always have one), the next one as long as
     * its history file is archived. One listing per timeline instead of the cluster's whole WAL listing, which grows
     * with the archive.
     */
    private int latestTimeline(String cluster, List<BaseBackupManifest> backups) {
        int latest = backups.stream().map(BaseBackupManifest::timeline).distinct().sorted(Comparator.reverseOrder())
                .filter(tli -> tli == 1 || hasHistory(cluster, tli)).findFirst().orElse(1);
        while (latest < MAX_TIMELINE && hasHistory(cluster, latest + 1)) latest++;
        return latest;
    }

    private boolean hasHistory(String cluster, int timeline) {
        try (Stream<ObjectInfo> objects = storage.list(RepositoryLayout.walNamePrefix(cluster, WalFileName.history(timeline)))) {
            return objects.findAny().isPresent();
        }
    }

    private TimelineHistory history(String cluster, int timeline) {
        if (timeline == 1) return TimelineHistory.first();
        WalFileName file = WalFileName.history(timeline);
        String name = file.name();
        try (VerifiedObject object = wal.open(cluster, file).orElseThrow(() -> PgwardenException.notFound(
                "cluster '" + cluster + "' has no timeline " + timeline + " (no " + name + " in the repository)"))) {
            ByteArrayOutputStream text = new ByteArrayOutputStream();
            object.writeTo(text);
            return TimelineHistory.parse(timeline, text.toString(StandardCharsets.UTF_8), "history file " + name);
        } catch (IOException e) {
            throw PgwardenException.unavailable("cannot read history file '" + name + "' of cluster '" + cluster + "': " + e.getMessage(), e);
        }
    }
}
