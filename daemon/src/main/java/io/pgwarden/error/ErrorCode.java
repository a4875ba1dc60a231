package io.pgwarden.error;

/**
 * Stable error codes, each mapped in exactly one place to a CLI exit code and an HTTP status.
 * Exit codes: 0 ok, 1 not found, 2 usage/config, 3 repository/storage, 4 PostgreSQL/tool, 5 integrity.
 */
public enum ErrorCode {
    NOT_FOUND(1, 404),
    USAGE(2, 400),
    CONFIG(2, 500),
    BAD_REQUEST(2, 400),
    UNAUTHORIZED(2, 401),
    PAYLOAD_TOO_LARGE(2, 413),
    /** Stored content differs, or the data belongs to another PostgreSQL system. */
    CONFLICT(5, 409),
    /** The repository cannot be reached or answered 5xx: the caller should retry. */
    REPOSITORY_UNAVAILABLE(3, 503),
    /** The repository answered but refused (permissions, bucket missing, ...). */
    STORAGE(3, 503),
    TOOL(4, 500),
    /** A backup's WAL did not reach the repository in time (archive_command failing or too slow). */
    WAL_MISSING(4, 500),
    /** A run of the same kind is already in progress for the cluster; nothing was started. */
    BUSY(1, 409),
    /** The daemon running it stopped (killed, crashed, its host lost) before the run ended; another daemon found it. */
    INTERRUPTED(3, 500),
    /** The scheduler's shared database cannot be reached: nothing was started; retry. */
    SCHEDULER_STORE(3, 503),
    INTEGRITY(5, 500),
    INTERNAL(3, 500);

    private final int exitCode;
    private final int httpStatus;

    ErrorCode(int exitCode, int httpStatus) {
        this.exitCode = exitCode;
        this.httpStatus = httpStatus;
    }

    /** The code of any failure: a PgwardenException's own, INTERNAL for everything unforeseen. */
    public static ErrorCode of(Throwable t) {
        return t instanceof PgwardenException p ? p.code() : INTERNAL;
    }

    /** A short label for metrics and failure records: tool, wal-missing, repository, integrity, config, not-found, busy, interrupted,
     * scheduler-store, internal. */
    public String reason() {
        return switch (this) {
            case TOOL -> "tool";
            case WAL_MISSING -> "wal-missing";
            case REPOSITORY_UNAVAILABLE, STORAGE -> "repository";
            case INTEGRITY, CONFLICT -> "integrity";
            case CONFIG, USAGE, BAD_REQUEST, UNAUTHORIZED, PAYLOAD_TOO_LARGE -> "config";
            case NOT_FOUND -> "not-found";
            case BUSY -> "busy";
            case INTERRUPTED -> "interrupted";
            case SCHEDULER_STORE -> "scheduler-store";
            case INTERNAL -> "internal";
        };
    }

    public int exitCode() {
        return exitCode;
    }

    public int httpStatus() {
        return httpStatus;
    }
}
