package io.pgwarden.jobs;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.repository.RestoreTestRecord;
import io.pgwarden.restore.TestRestoreService;
import io.pgwarden.runner.ToolRunner;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.function.Function;

/** A test restore: restore, start, replay, check, clean up; the record (success or not) lands in the repository. */
final class TestRestoreJob implements Job {
    private final TestRestoreService service;
    private final Function<String, ToolRunner> runners;
    private final Metrics metrics;

    TestRestoreJob(TestRestoreService service, Function<String, ToolRunner> runners, Metrics metrics) {
        this.service = service;
        this.runners = runners;
        this.metrics = metrics;
    }

    @Override
    public Optional<String> run(JobRequest request, JobRun run, Supplier<Set<String>> activeRuns) {
        RestoreTestRecord record = service.run(request.cluster(), run.id(), runners.apply(request.cluster()), request.restoreTarget());
        if (!record.succeeded()) {
            metrics.restoreTestFailed(request.cluster());
            return Optional.of(record.error());
        }
        metrics.restoreTestSucceeded(request.cluster(), Duration.ofMillis(Math.round(record.totalSeconds() * 1000)));
        return Optional.empty();
    }

    @Override
    public void failed(JobRequest request, JobRun run, RuntimeException error, ErrorCode code) {
        metrics.restoreTestFailed(request.cluster());
    }
}
