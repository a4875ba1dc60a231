package io.pgwarden.jobs;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.time.Instant;

/**
 * One run as a status query shows it; error and errorCode (an {@link io.pgwarden.error.ErrorCode} name) are set when
 * it failed, errorObject when the failure names a repository object.
 */
public record JobRun(String id, String cluster, JobKind kind, String database, String trigger, JobState state, Instant startedAt,
                     Instant finishedAt, String error, String errorCode, String errorObject) {
    @JsonIgnore
    public boolean finished() {
        return state != JobState.RUNNING;
    }

    @JsonIgnore
    public boolean succeeded() {
        return state == JobState.SUCCEEDED;
    }

    JobRun finish(JobState outcome, Instant at, String error, String errorCode, String errorObject) {
        return new JobRun(id, cluster, kind, database, trigger, outcome, startedAt, at, error, errorCode, errorObject);
    }
}
