package io.pgwarden.repository;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ids of backup runs, e.g. {@code 20261125T020000Z-3fa1}: sortable by start time, readable, safe in object keys.
 * The start time can be read back from the id, so the repository's listing alone tells when runs happened.
 */
public final class RunIds {
    private static final DateTimeFormatter FORMAT = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    private RunIds() {
    }

    public static String next(Instant started) {
        // The suffix keeps two runs started in the same second apart.
        return FORMAT.format(started) + "-" + "%04x".formatted(ThreadLocalRandom.current().nextInt(0x10000));
    }

    public static String next(Clock clock) {
        return next(clock.instant());
    }

    /** The start time an id carries; empty for names that are not run ids. */
    public static Optional<Instant> startedAt(String id) {
        if (id.length() < 16) return Optional.empty();
        try {
            return Optional.of(Instant.from(FORMAT.parse(id.substring(0, 16))));
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }
}
