package io.pgwarden.config;

import java.util.Optional;

/**
 * When the daemon runs each job of a cluster (absent: never on a schedule).
 * @param misfire what to do at start-up when a scheduled time passed while the daemon was down
 */
public record SchedulesConfig(Optional<CronSchedule> base, Optional<CronSchedule> incremental, Optional<CronSchedule> dump,
                              Optional<CronSchedule> restoreTest, Optional<CronSchedule> retention, Optional<CronSchedule> verify,
                              Misfire misfire) {
    public enum Misfire { RUN_ONCE, SKIP }

    public static SchedulesConfig none() {
        return new SchedulesConfig(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                Misfire.RUN_ONCE);
    }
}
