package io.pgwarden.config;

import java.time.Duration;

/**
 * @param checkpoint fast (start at once, I/O burst) or spread (gentle, may take up to checkpoint_timeout)
 * @param walWait    how long to wait after pg_basebackup for the WAL it needs to be archived
 * @param timeout    pg_basebackup is killed after this long
 */
public record BaseBackupConfig(Checkpoint checkpoint, Duration walWait, Duration timeout) {
    public enum Checkpoint { FAST, SPREAD }

    public static BaseBackupConfig defaults() {
        return new BaseBackupConfig(Checkpoint.FAST, Duration.ofMinutes(10), Duration.ofHours(24));
    }
}
