package io.pgwarden.jobs;

import io.pgwarden.restore.RestoreTarget;
import java.util.Optional;

/**
 * A request for one run.
 * @param trigger       who asked: schedule, misfire, api, cli, quickstart
 * @param restoreTarget where a test restore recovers to (other kinds ignore it)
 */
public record JobRequest(String cluster, JobKind kind, Optional<String> database, String trigger, RestoreTarget restoreTarget) {
    public JobRequest(String cluster, JobKind kind, Optional<String> database, String trigger) {
        this(cluster, kind, database, trigger, new RestoreTarget.Latest());
    }
}
