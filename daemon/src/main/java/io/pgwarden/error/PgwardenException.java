package io.pgwarden.error;

/**
 * Every error an operator can see: a stable code, a lowercase one-line message that says the context in words, and
 * the same context as fields ({@link ErrorContext}), added where it is known as the error travels outwards.
 */
public class PgwardenException extends RuntimeException {
    private final ErrorCode code;
    private volatile ErrorContext context = ErrorContext.NONE;

    public PgwardenException(ErrorCode code, String message) {
        super(message);
        this.code = code;
    }

    public PgwardenException(ErrorCode code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public ErrorCode code() {
        return code;
    }

    public ErrorContext context() {
        return context;
    }

    /** Adds what is not known yet: a value set closer to the failure is kept. Returns this exception, to rethrow. */
    public PgwardenException withContext(ErrorContext outer) {
        context = context.orElse(outer);
        return this;
    }

    public PgwardenException inCluster(String cluster) {
        return withContext(new ErrorContext(cluster, null, null));
    }

    public PgwardenException forObject(String objectKey) {
        return withContext(new ErrorContext(null, objectKey, null));
    }

    public PgwardenException inRun(String runId) {
        return withContext(new ErrorContext(null, null, runId));
    }

    public static PgwardenException notFound(String message) {
        return new PgwardenException(ErrorCode.NOT_FOUND, message);
    }

    public static PgwardenException badRequest(String message) {
        return new PgwardenException(ErrorCode.BAD_REQUEST, message);
    }

    public static PgwardenException conflict(String message) {
        return new PgwardenException(ErrorCode.CONFLICT, message);
    }

    public static PgwardenException tooLarge(String message) {
        return new PgwardenException(ErrorCode.PAYLOAD_TOO_LARGE, message);
    }

    public static PgwardenException integrity(String message) {
        return new PgwardenException(ErrorCode.INTEGRITY, message);
    }

    public static PgwardenException unavailable(String message, Throwable cause) {
        return new PgwardenException(ErrorCode.REPOSITORY_UNAVAILABLE, message, cause);
    }
}
