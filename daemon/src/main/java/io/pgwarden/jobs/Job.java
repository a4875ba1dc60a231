package io.pgwarden.jobs;

import io.pgwarden.error.ErrorCode;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/** What one kind of run does; the engine around it claims the slot, records the state and counts the outcome. */
interface Job {
    /**
     * @param activeRuns the ids of every run in progress (retention must keep what they are writing); read only by the
     *                   kinds that need it, so that a backup does not depend on a shared store being reachable
     * @return empty when it succeeded, else why the run failed although it ended normally (a dump of one database, a check)
     */
    Optional<String> run(JobRequest request, JobRun run, Supplier<Set<String>> activeRuns);

    /** Counts (and, where the kind keeps one, records) a run that ended with an exception. */
    void failed(JobRequest request, JobRun run, RuntimeException error, ErrorCode code);
}
