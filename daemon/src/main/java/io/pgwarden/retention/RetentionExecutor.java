package io.pgwarden.retention;

import io.pgwarden.pg.WalFileName;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.retention.RetentionPlan.Deletion;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageDriver.ObjectInfo;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a retention plan so that the repository is consistent after an interruption at any point: a backup or
 * dump is first marked (a "deleting" object), then loses its manifest (from then on it is no backup), then its data,
 * then the mark; WAL goes last, and only WAL before what remains. A re-run finishes what a mark says was begun.
 */
public final class RetentionExecutor {
    private static final Logger log = LoggerFactory.getLogger(RetentionExecutor.class);
    static final String MARK = "deleting";
    private static final int BATCH = 1000;

    private final StorageDriver storage;

    public RetentionExecutor(StorageDriver storage) {
        this.storage = storage;
    }

    public record Result(long objects, long bytes) {
        public Result plus(long o, long b) {
            return new Result(objects + o, bytes + b);
        }
    }

    public Result execute(RetentionPlan plan) {
        Result done = finishInterrupted(plan.cluster());
        for (Deletion d : plan.deletions()) {
            done = switch (d.kind()) {
                case RESTORE_TEST -> {
                    storage.delete(RepositoryLayout.restoreTestRecord(plan.cluster(), d.id()));
                    yield done.plus(1, 0);
                }
                default -> {
                    Result r = deleteDirectory(directory(plan.cluster(), d));
                    yield done.plus(r.objects(), r.bytes());
                }
            };
        }
        if (plan.walBefore().isPresent()) {
            long[] counted = new long[2];
            List<String> batch = new ArrayList<>();
            walBefore(plan.cluster(), plan.walBefore().get(), o -> {
                batch.add(o.key());
                counted[0]++;
                counted[1] += o.size();
                if (batch.size() == BATCH) {
                    storage.deleteAll(List.copyOf(batch));
                    batch.clear();
                }
            });
            storage.deleteAll(batch);
            done = done.plus(counted[0], counted[1]);
        }
        log.info("cluster '{}': retention deleted {} objects, {} bytes", plan.cluster(), done.objects(), done.bytes());
        return done;
    }

    /**
     * Every WAL segment, .partial and .backup object positioned before the cutoff's file, on any timeline, in key
     * order (under object lock, only those written before its lock expiry bound).
     */
    public void walBefore(String cluster, RetentionPlan.WalCutoff walCutoff, Consumer<ObjectInfo> each) {
        String cutoff = walCutoff.walFile().substring(8);
        java.time.Instant writtenBefore = walCutoff.writtenBefore().orElse(java.time.Instant.MAX);
        try (Stream<ObjectInfo> objects = storage.list(RepositoryLayout.walPrefix(cluster))) {
            objects.forEach(o -> RepositoryLayout.walFileOf(o.key())
                    .filter(name -> name.kind() != WalFileName.Kind.TIMELINE_HISTORY)
                    .filter(name -> name.name().substring(8, 24).compareTo(cutoff) < 0)
                    .filter(name -> o.lastModified().isBefore(writtenBefore))
                    .ifPresent(name -> each.accept(o)));
        }
    }

    private static String directory(String cluster, Deletion d) {
        return switch (d.kind()) {
            case BASE -> RepositoryLayout.baseBackupDirectory(cluster, d.id());
            case DUMP -> RepositoryLayout.dumpDirectory(cluster, d.database(), d.id());
            case GLOBALS -> RepositoryLayout.globalsDirectory(cluster, d.id());
            case RESTORE_TEST -> throw new IllegalArgumentException("a test-restore record is one object");
        };
    }

    /** Mark, manifest, data, mark: see the class comment. */
    private Result deleteDirectory(String prefix) {
        storage.put(prefix + MARK, new ByteArrayInputStream(new byte[0]), Map.of());
        storage.delete(prefix + "manifest.json");
        return deleteRest(prefix);
    }

    private Result deleteRest(String prefix) {
        List<String> keys = new ArrayList<>();
        long bytes = 0;
        try (Stream<ObjectInfo> objects = storage.list(prefix)) {
            for (ObjectInfo o : (Iterable<ObjectInfo>) objects::iterator) {
                if (o.key().equals(prefix + MARK)) continue;
                keys.add(o.key());
                bytes += o.size();
            }
        }
        storage.deleteAll(keys);
        storage.delete(prefix + MARK);
        return new Result(keys.size() + 1, bytes);
    }

    /** Deletions an earlier, interrupted prune began (their mark is still there). */
    private Result finishInterrupted(String cluster) {
        List<String> marked = new ArrayList<>();
        for (String root : RepositoryLayout.backupRoots(cluster)) {
            try (Stream<ObjectInfo> objects = storage.list(root)) {
                objects.map(ObjectInfo::key).filter(k -> k.endsWith("/" + MARK)).forEach(marked::add);
            }
        }
        Result done = new Result(0, 0);
        for (String mark : marked) {
            String prefix = mark.substring(0, mark.length() - MARK.length());
            log.warn("finishing the deletion of '{}' an interrupted prune began", prefix);
            storage.delete(prefix + "manifest.json");
            Result r = deleteRest(prefix);
            done = done.plus(r.objects(), r.bytes());
        }
        return done;
    }

    /** The retention planner's view of the repository (manifests only; WAL is streamed by the executor). */
    public static RetentionPlanner.Catalog catalog(StorageDriver storage, String cluster) {
        Catalog catalog = new Catalog(storage);
        List<String> tests = new ArrayList<>();
        String prefix = RepositoryLayout.restoreTestRoot(cluster);
        try (Stream<ObjectInfo> objects = storage.list(prefix)) {
            objects.map(o -> o.key().substring(prefix.length())).filter(k -> k.endsWith(".json"))
                    .forEach(k -> tests.add(k.substring(0, k.length() - ".json".length())));
        }
        return new RetentionPlanner.Catalog(cluster, catalog.baseBackups(cluster), catalog.dumps(cluster), tests);
    }
}
