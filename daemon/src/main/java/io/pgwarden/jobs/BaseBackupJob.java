package io.pgwarden.jobs;

import io.pgwarden.backup.BaseBackupService;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.runner.ToolRunner;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.function.Function;

/**
 * A base backup, full or incremental: pg_basebackup streamed into the repository, then its size and the recovery
 * window counted.
 */
final class BaseBackupJob implements Job {
    private final BaseBackupService service;
    private final boolean incremental;
    private final Function<String, ToolRunner> runners;
    private final Metrics metrics;
    private final RepositoryGauges gauges;

    BaseBackupJob(BaseBackupService service, boolean incremental, Function<String, ToolRunner> runners, Metrics metrics,
                  RepositoryGauges gauges) {
        this.service = service;
        this.incremental = incremental;
        this.runners = runners;
        this.metrics = metrics;
        this.gauges = gauges;
    }

    @Override
    public Optional<String> run(JobRequest request, JobRun run, Supplier<Set<String>> activeRuns) {
        BaseBackupManifest m = incremental ? service.incremental(request.cluster(), runners.apply(request.cluster()), run.id())
                : service.backup(request.cluster(), runners.apply(request.cluster()), run.id());
        // An incremental taken as a full one (baseBackup.incrementalFallback) counts as a full one.
        String kind = BaseBackupManifest.INCREMENTAL.equals(m.kind()) ? JobKind.INCREMENTAL.label() : JobKind.BASE.label();
        metrics.backupSucceeded(request.cluster(), kind, Metrics.NO_DATABASE, Duration.between(m.startTime(), m.stopTime()),
                m.rawBytes(), m.storedBytes());
        gauges.updateRecoveryWindow(request.cluster());
        return Optional.empty();
    }

    @Override
    public void failed(JobRequest request, JobRun run, RuntimeException error, ErrorCode code) {
        metrics.backupFailed(request.cluster(), request.kind().label(), code.reason());
    }
}
