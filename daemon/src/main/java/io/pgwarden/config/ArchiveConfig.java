package io.pgwarden.config;

import java.time.Duration;

/**
 * When a WAL push is acknowledged.
 * @param durability      REPOSITORY: once the file is stored in the repository (default); SPOOL: once it is fsynced in
 *                        server.walSpoolDir, uploaded in the background
 * @param maxBacklogBytes with SPOOL: stored bytes waiting for upload beyond which pushes get 503 (PostgreSQL keeps the WAL)
 * @param maxBacklogAge   with SPOOL: age of the oldest waiting file beyond which pushes get 503 (the repository is not keeping up)
 * @param uploads         with SPOOL: uploads at once, started in WAL order
 */
public record ArchiveConfig(Durability durability, long maxBacklogBytes, Duration maxBacklogAge, int uploads) {
    public enum Durability { REPOSITORY, SPOOL }

    public static final long DEFAULT_MAX_BACKLOG_BYTES = 1L << 30;
    public static final Duration DEFAULT_MAX_BACKLOG_AGE = Duration.ofHours(1);
    public static final int DEFAULT_UPLOADS = 2;

    public static ArchiveConfig defaults() {
        return new ArchiveConfig(Durability.REPOSITORY, DEFAULT_MAX_BACKLOG_BYTES, DEFAULT_MAX_BACKLOG_AGE, DEFAULT_UPLOADS);
    }

    public boolean spooled() {
        return durability == Durability.SPOOL;
    }
}
