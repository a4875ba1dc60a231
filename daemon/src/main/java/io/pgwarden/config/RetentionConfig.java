package io.pgwarden.config;

import java.time.Duration;
import java.time.ZoneId;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What retention keeps ({@code clusters.<name>.retention}). Absent rules keep everything of their kind.
 * @param keepLast   the N newest base backups
 * @param window     PITR to every point of the last DURATION: every backup that ended inside it plus the newest before it
 * @param dumps      grandfather-father-son counts for dumps, per database (globals count as one)
 * @param dumpMaxAge no dump older than this, whatever the counts keep (the newest dump of a database always stays)
 * @param timeZone   where days, weeks (ISO, from Monday), months and years begin for the counts
 */
public record RetentionConfig(OptionalInt keepLast, Optional<Duration> window, Gfs dumps, Optional<Duration> dumpMaxAge, ZoneId timeZone) {
    /** Keep the newest dump of each of the N most recent days (weeks, months, years) that have one; 0: no such rule. */
    public record Gfs(int daily, int weekly, int monthly, int yearly) {
        public boolean any() {
            return daily + weekly + monthly + yearly > 0;
        }
    }

    /** Test-restore records kept (the newest). */
    public static final int RESTORE_TEST_RECORDS = 50;

    public static RetentionConfig keepAll() {
        return new RetentionConfig(OptionalInt.empty(), Optional.empty(), new Gfs(0, 0, 0, 0), Optional.empty(), ZoneId.of("UTC"));
    }

    public boolean prunesBaseBackups() {
        return keepLast.isPresent() || window.isPresent();
    }

    public boolean prunesDumps() {
        return dumps.any() || dumpMaxAge.isPresent();
    }
}
