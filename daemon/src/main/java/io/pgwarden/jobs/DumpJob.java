package io.pgwarden.jobs;

import io.pgwarden.backup.DumpService;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.repository.FailureRecord;
import io.pgwarden.repository.FailureRecords;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Dumps: pg_dump of each database (or one) and the globals; one database failing fails the run, not the others. */
final class DumpJob implements Job {
    private static final Logger log = LoggerFactory.getLogger(DumpJob.class);

    private final DumpService service;
    private final Function<String, ToolRunner> runners;
    private final StorageDriver storage;
    private final Metrics metrics;
    private final Clock clock;

    DumpJob(DumpService service, Function<String, ToolRunner> runners, StorageDriver storage, Metrics metrics, Clock clock) {
        this.service = service;
        this.runners = runners;
        this.storage = storage;
        this.metrics = metrics;
        this.clock = clock;
    }

    @Override
    public Optional<String> run(JobRequest request, JobRun run, Supplier<Set<String>> activeRuns) {
        DumpService.DumpRun dumps = service.dump(request.cluster(), runners.apply(request.cluster()), request.database(), run.id());
        for (DumpManifest d : dumps.dumps()) {
            metrics.backupSucceeded(request.cluster(), d.isGlobals() ? "globals" : "dump", d.isGlobals() ? Metrics.NO_DATABASE : d.database(),
                    Duration.between(d.startTime(), d.stopTime()), d.rawBytes(), d.storedBytes());
        }
        for (FailureRecord f : dumps.failures()) metrics.backupFailed(request.cluster(), f.database() == null ? "globals" : "dump", f.reason());
        return dumps.succeeded() ? Optional.empty() : Optional.of(dumps.summary());
    }

    /** A dump run that failed before any database (server unreachable, tools too old) still leaves a record. */
    @Override
    public void failed(JobRequest request, JobRun run, RuntimeException error, ErrorCode code) {
        metrics.backupFailed(request.cluster(), "dump", code.reason());
        log.error("cluster '{}': dump run {} failed: {}", run.cluster(), run.id(), error.getMessage());
        FailureRecords.write(storage, RepositoryLayout.failureRecord(run.cluster(), "dump", run.id()),
                new FailureRecord("dump", run.id(), run.cluster(), run.database(), run.startedAt(), clock.instant(), code.reason(),
                        error.getMessage()), "cluster '" + run.cluster() + "': dump run " + run.id());
    }
}
