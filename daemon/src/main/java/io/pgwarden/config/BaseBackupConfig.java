package io.pgwarden.config;

import java.time.Duration;
import java.util.OptionalLong;

/**
 * @param checkpoint fast (start at once, I/O burst) or spread (gentle, may take up to checkpoint_timeout)
 * @param walWait    how long to wait after pg_basebackup for the WAL it needs to be archived
 * @param timeout    pg_basebackup is killed after this long
 * @param maxRate    pg_basebackup's transfer limit in bytes per second (its -r), to spare a busy server's I/O
 */
public record BaseBackupConfig(Checkpoint checkpoint, Duration walWait, Duration timeout, OptionalLong maxRate) {
    public enum Checkpoint { FAST, SPREAD }

    public static BaseBackupConfig defaults() {
        return new BaseBackupConfig(Checkpoint.FAST, Duration.ofMinutes(10), Duration.ofHours(24), OptionalLong.empty());
    }
}
