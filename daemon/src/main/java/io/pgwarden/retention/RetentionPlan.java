package io.pgwarden.retention;

import java.util.List;
import java.util.Optional;

/**
 * What a prune deletes, each item with its reason; WAL as a rule (every file before one position), so that the
 * plan stays small however many WAL files the repository holds.
 * @param walBefore     delete WAL segment, .partial and .backup files positioned before this file's position, on
 *                      every timeline (history files always stay); empty: no WAL goes
 */
public record RetentionPlan(String cluster, List<Deletion> deletions, Optional<WalCutoff> walBefore) {
    public enum Kind { BASE, DUMP, GLOBALS, RESTORE_TEST }

    /**
     * @param database  the dump's database (null for base backups, globals and test-restore records)
     * @param writtenAt when it was written, as its manifest or id records (object lock counts from it)
     */
    public record Deletion(Kind kind, String id, String database, String reason, long storedBytes, java.time.Instant writtenAt) {
    }

    /**
     * @param walFile       the start WAL file of the oldest base backup that stays
     * @param writtenBefore under object lock: only WAL objects written before this instant (their lock has expired)
     */
    public record WalCutoff(String walFile, String reason, Optional<java.time.Instant> writtenBefore) {
    }

    public RetentionPlan {
        deletions = List.copyOf(deletions);
    }

    public boolean isEmpty() {
        return deletions.isEmpty() && walBefore.isEmpty();
    }
}
