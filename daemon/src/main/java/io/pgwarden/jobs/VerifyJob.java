package io.pgwarden.jobs;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.verify.RepositoryVerifier;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Verify: read every object back, check sizes, sums and WAL continuity; each problem is logged, the first one reported. */
final class VerifyJob implements Job {
    private static final Logger log = LoggerFactory.getLogger(VerifyJob.class);

    private final RepositoryVerifier verifier;
    private final Metrics metrics;

    VerifyJob(RepositoryVerifier verifier, Metrics metrics) {
        this.verifier = verifier;
        this.metrics = metrics;
    }

    @Override
    public Optional<String> run(JobRequest request, JobRun run, Supplier<Set<String>> activeRuns) {
        List<RepositoryVerifier.Finding> problems = verifier.verify(request.cluster(), Optional.empty(), f -> {
            if (!f.ok()) log.error("cluster '{}': verify: {}: {}", request.cluster(), f.what(), f.detail());
        });
        if (problems.isEmpty()) {
            metrics.verifySucceeded(request.cluster());
            return Optional.empty();
        }
        metrics.verifyFailed(request.cluster());
        return Optional.of(problems.size() + " problem(s); the first: " + problems.get(0).what() + ": " + problems.get(0).detail());
    }

    @Override
    public void failed(JobRequest request, JobRun run, RuntimeException error, ErrorCode code) {
        metrics.verifyFailed(request.cluster());
    }
}
