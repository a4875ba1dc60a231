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
    INTEGRITY(5, 500),
    INTERNAL(3, 500);

    private final int exitCode;
    private final int httpStatus;

    ErrorCode(int exitCode, int httpStatus) {
        this.exitCode = exitCode;
        this.httpStatus = httpStatus;
    }

    public int exitCode() {
        return exitCode;
    }

    public int httpStatus() {
        return httpStatus;
    }
}
