package io.pgwarden.error;

/** Every error an operator can see: a stable code plus a lowercase, one-line message with its context. */
public class PgwardenException extends RuntimeException {
    private final ErrorCode code;

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
