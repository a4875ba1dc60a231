package io.pgwarden.jobs;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.retention.RetentionExecutor;
import io.pgwarden.retention.RetentionService;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/** Retention: delete what the policy no longer keeps, never what a run in progress is writing. */
final class RetentionJob implements Job {
    private final RetentionService service;
    private final Metrics metrics;
    private final RepositoryGauges gauges;

    RetentionJob(RetentionService service, Metrics metrics, RepositoryGauges gauges) {
        this.service = service;
        this.metrics = metrics;
        this.gauges = gauges;
    }

    @Override
    public Optional<String> run(JobRequest request, JobRun run, Supplier<Set<String>> activeRuns) {
        RetentionExecutor.Result done = service.prune(request.cluster(), activeRuns.get());
        metrics.retentionDeleted(request.cluster(), done.objects(), done.bytes());
        gauges.updateRecoveryWindow(request.cluster());
        return Optional.empty();
    }

    @Override
    public void failed(JobRequest request, JobRun run, RuntimeException error, ErrorCode code) {
        metrics.retentionFailed(request.cluster());
    }
}
