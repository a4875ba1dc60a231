package io.pgwarden.repository;

import java.time.Instant;
import java.util.List;

/**
 * restore-test/{id}.json: one test restore, successful or not.
 * @param totalSeconds    from the start of the download until the restored server answered the checks: the measured recovery time
 * @param recoverySeconds the part spent by PostgreSQL replaying WAL (start to promotion)
 * @param recoveredTo     the commit time of the last transaction replayed (null when none was replayed)
 */
public record RestoreTestRecord(int formatVersion, String id, String cluster, String backupId, String target, int timeline,
                                Instant startedAt, Instant finishedAt, double totalSeconds, double recoverySeconds, Instant recoveredTo,
                                String outcome, List<CheckResult> checks, List<DumpCheck> dumpChecks, String error) {
    public record CheckResult(String database, String sql, String expect, String actual, boolean passed) {
    }

    /**
     * A dump restored into a scratch database: every table its TOC holds data for, with its row count there.
     * @param error why it failed; null when it passed
     */
    public record DumpCheck(String database, String dumpId, java.util.Map<String, Long> rowCounts, double seconds, String error) {
    }

    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean succeeded() {
        return "succeeded".equals(outcome);
    }
}
