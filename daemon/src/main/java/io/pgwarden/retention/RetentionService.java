package io.pgwarden.retention;

import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.S3Config;
import io.pgwarden.storage.StorageDriver;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;

/**
 * One prune of a cluster with its configured policy: plan from the repository (retention and garbage), then apply.
 * The schedule's job and {@code pgwarden prune} both come through here.
 */
public final class RetentionService {
    private final PgwardenConfig config;
    private final StorageDriver storage;
    private final Clock clock;
    private final RetentionExecutor executor;
    private final GarbageCollector collector;

    public RetentionService(PgwardenConfig config, StorageDriver storage, Clock clock) {
        this.config = config;
        this.storage = storage;
        this.clock = clock;
        this.executor = new RetentionExecutor(storage);
        this.collector = new GarbageCollector(storage);
    }

    /** What one prune deletes: the retention plan and the garbage found. */
    public record Prune(RetentionPlan plan, List<GarbageCollector.Garbage> garbage) {
    }

    /** @param activeRuns ids of runs this process has in progress (their objects are never garbage) */
    public Prune plan(String cluster, Set<String> activeRuns) {
        Duration lock = config.repository().s3().flatMap(S3Config::objectLock).map(S3Config.ObjectLock::period).orElse(Duration.ZERO);
        Instant now = clock.instant();
        RetentionPlan plan = RetentionPlanner.plan(RetentionExecutor.catalog(storage, cluster), config.cluster(cluster).retention(), lock, now);
        return new Prune(plan, collector.find(cluster, now, config.repository().garbageGrace(), activeRuns));
    }

    public RetentionExecutor.Result apply(Prune prune) {
        RetentionExecutor.Result retained = executor.execute(prune.plan());
        RetentionExecutor.Result collected = collector.remove(prune.garbage());
        return retained.plus(collected.objects(), collected.bytes());
    }

    public RetentionExecutor.Result prune(String cluster, Set<String> activeRuns) {
        return apply(plan(cluster, activeRuns));
    }

    /** Every WAL object the plan deletes, for listing it (streamed: there may be very many). */
    public void walToDelete(RetentionPlan plan, java.util.function.Consumer<StorageDriver.ObjectInfo> each) {
        plan.walBefore().ifPresent(w -> executor.walBefore(plan.cluster(), w, each));
    }
}
