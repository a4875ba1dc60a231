package io.pgwarden.restore;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.Optional;

/**
 * A PostgreSQL server pgwarden started on a restored copy: local ({@link LocalServer}, pg_ctl) or in a sidecar
 * container on a scratch volume ({@link SidecarServer}). Queried as psql -At prints.
 */
public interface RestoredServer extends AutoCloseable {
    DateTimeFormatter PG_TIMESTAMPTZ = new DateTimeFormatterBuilder()
            .appendPattern("yyyy-MM-dd HH:mm:ss").optionalStart().appendFraction(ChronoField.NANO_OF_SECOND, 0, 9, true)
            .optionalEnd().appendPattern("x").toFormatter();

    /** One SQL statement's output (psql -At); a failure is a {@link PgwardenException}. */
    String query(String database, String sql);

    /** The server's last log lines, for an error message. */
    String logTail();

    /** Where it runs, as an operator reaches it: "on DIR (port …)" or "in container NAME on volume V, published on …". */
    String describe();

    /** How an operator stops (and removes) a server left running. */
    String stopHint();

    /** False once the server has exited (it will not promote any more). */
    boolean running();

    @Override
    void close();

    /** Waits until recovery has ended and the server was promoted. */
    default void awaitPromoted(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if ("f".equals(query("postgres", "SELECT pg_is_in_recovery()"))) return;
            } catch (PgwardenException notYet) {
                // still starting, or replaying before consistency: connections are refused until then
            }
            if (!running()) throw new PgwardenException(ErrorCode.TOOL, "the restored server stopped before it was promoted; server log: " + logTail());
            if (System.nanoTime() > deadline) {
                throw new PgwardenException(ErrorCode.TOOL, "the restored server did not finish recovery within " + timeout.toSeconds()
                        + "s; server log: " + logTail());
            }
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new PgwardenException(ErrorCode.TOOL, "interrupted while waiting for the restored server", e);
            }
        }
    }

    /** The commit time of the last transaction recovery replayed (empty when none was). */
    default Optional<Instant> recoveredTo() {
        String text = query("postgres", "SELECT pg_last_xact_replay_timestamp()");
        if (text.isBlank()) return Optional.empty();
        try {
            return Optional.of(OffsetDateTime.parse(text, PG_TIMESTAMPTZ).toInstant());
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }
}
