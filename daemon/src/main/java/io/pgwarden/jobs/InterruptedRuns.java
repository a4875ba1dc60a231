package io.pgwarden.jobs;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.repository.FailureRecord;
import io.pgwarden.repository.FailureRecords;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.time.Clock;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a run whose daemon died leaves to whoever finds it: a base backup's failure record (a dump's job writes its
 * own), so `list` and the misfire check see the failed run; and its sidecars, where they run on this daemon's Docker
 * engine (elsewhere, the dead daemon's next start removes them). Its half-written objects have no manifest: garbage
 * collection removes them.
 */
final class InterruptedRuns {
    private static final Logger log = LoggerFactory.getLogger(InterruptedRuns.class);

    private final StorageDriver storage;
    private final Function<String, ToolRunner> runners;
    private final Clock clock;

    InterruptedRuns(StorageDriver storage, Function<String, ToolRunner> runners, Clock clock) {
        this.storage = storage;
        this.runners = runners;
        this.clock = clock;
    }

    void cleanUp(JobRun run) {
        log.error("cluster '{}': {} {} was interrupted: {}", run.cluster(), run.kind().noun(), run.id(), run.error());
        if (run.kind() == JobKind.BASE || run.kind() == JobKind.INCREMENTAL) {
            FailureRecords.write(storage, RepositoryLayout.failureRecord(run.cluster(), run.kind().label(), run.id()),
                    new FailureRecord(run.kind().label(), run.id(), run.cluster(), null, run.startedAt(), clock.instant(),
                            ErrorCode.INTERRUPTED.reason(), run.error()), "cluster '" + run.cluster() + "': base backup " + run.id());
        }
        ToolRunner runner = runners.apply(run.cluster());
        if (runner == null) return; // a cluster this daemon's configuration does not have
        try {
            int removed = runner.removeRun(run.id());
            if (removed > 0) log.info("cluster '{}': removed {} sidecar(s) of interrupted run {}", run.cluster(), removed, run.id());
        } catch (RuntimeException e) {
            log.warn("cluster '{}': cannot remove the sidecars of interrupted run {} (its daemon's next start will): {}", run.cluster(),
                    run.id(), e.getMessage());
        }
    }
}
