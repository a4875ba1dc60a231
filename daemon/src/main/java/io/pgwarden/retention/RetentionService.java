package io.pgwarden.retention;

import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.storage.StorageDriver;
import java.time.Clock;

/** One prune of a cluster with its configured policy: plan from the repository, then apply (the schedule's job). */
public final class RetentionService {
    private final PgwardenConfig config;
    private final StorageDriver storage;
    private final Clock clock;

    public RetentionService(PgwardenConfig config, StorageDriver storage, Clock clock) {
        this.config = config;
        this.storage = storage;
        this.clock = clock;
    }

    public RetentionExecutor.Result prune(String cluster) {
        RetentionPlan plan = RetentionPlanner.plan(RetentionExecutor.catalog(storage, cluster), config.cluster(cluster).retention(), clock.instant());
        return new RetentionExecutor(storage).execute(plan);
    }
}
