package io.pgwarden.repository;

import java.time.Instant;

/**
 * A run that failed: kept in the repository so `list` and operators see it (failures/{kind}/{id}.json).
 * @param database the database of a failed dump; null otherwise
 * @param reason   the failure class, as in the metric backup_failures_total{reason}
 */
public record FailureRecord(String kind, String id, String cluster, String database, Instant startedAt, Instant failedAt, String reason,
                            String error) {
}
