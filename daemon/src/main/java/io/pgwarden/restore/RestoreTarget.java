package io.pgwarden.restore;

import io.pgwarden.pg.Lsn;
import java.time.Instant;

/** Where recovery stops: a time, an LSN, a named restore point, or the end of the archived WAL. */
public sealed interface RestoreTarget {
    record Time(Instant at) implements RestoreTarget {
    }

    record Position(long lsn) implements RestoreTarget {
    }

    /** A restore point made with pg_create_restore_point(); checked by {@link #parseName} wherever it is read. */
    record Name(String restorePoint) implements RestoreTarget {
        public Name {
            checkName(restorePoint, "the restore point name");
        }
    }

    /** PostgreSQL's limit for a restore point name (MAXFNAMELEN - 1). */
    int MAX_NAME_BYTES = 63;

    /**
     * A restore point name as PostgreSQL can have made it, which also keeps it from being anything but one value in
     * postgresql.auto.conf: no control characters (a newline ends a setting), no backslash (an escape there), at
     * most 63 bytes. @param what names the input in the message, e.g. --target-name
     */
    static Name parseName(String text, String what) {
        checkName(text, what);
        return new Name(text);
    }

    private static void checkName(String text, String what) {
        String problem = null;
        if (text == null || text.isEmpty()) problem = "must not be empty";
        else if (text.codePoints().anyMatch(Character::isISOControl)) problem = "must not contain control characters (such as a newline)";
        else if (text.indexOf('\\') >= 0) problem = "must not contain a backslash";
        else if (text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            problem = "is longer than PostgreSQL's limit of " + MAX_NAME_BYTES + " bytes for a restore point name";
        }
        if (problem != null) throw new io.pgwarden.error.PgwardenException(io.pgwarden.error.ErrorCode.USAGE, what + " " + problem);
    }

    record Latest() implements RestoreTarget {
    }

    /**
     * ISO-8601 or PostgreSQL's spelling, always with a zone; a time without one is refused: it would silently mean
     * some server's zone. @param what names the input in the message, e.g. --target-time
     */
    static Instant parseTime(String text, String what) {
        String iso = text.trim().replace(' ', 'T').replaceFirst("([+-]\\d\\d)$", "$1:00");
        try {
            return java.time.OffsetDateTime.parse(iso).toInstant();
        } catch (java.time.format.DateTimeParseException e) {
            try {
                java.time.LocalDateTime.parse(iso);
                throw new io.pgwarden.error.PgwardenException(io.pgwarden.error.ErrorCode.USAGE, what + " '" + text
                        + "' has no time zone; add one, e.g. '" + text + "Z' or '" + text + "+01:00'");
            } catch (java.time.format.DateTimeParseException notEvenLocal) {
                throw new io.pgwarden.error.PgwardenException(io.pgwarden.error.ErrorCode.USAGE, what + " '" + text
                        + "' is not an ISO-8601 time with a zone (e.g. 2026-11-25T03:15:00Z)");
            }
        }
    }

    default String describe() {
        return switch (this) {
            case Time t -> "time " + t.at();
            case Position p -> "LSN " + Lsn.format(p.lsn());
            case Name n -> "restore point '" + n.restorePoint() + "'";
            case Latest l -> "the end of the archived WAL";
        };
    }
}
