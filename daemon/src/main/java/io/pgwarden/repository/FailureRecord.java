package io.pgwarden.repository;

import java.time.Instant;

/** A run that failed: kept in the repository so `list` and operators see it (failures/{kind}/{id}.json). */
public record FailureRecord(String kind, String id, String cluster, Instant startedAt, Instant failedAt, String error) {
}
