package io.pgwarden.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * @param checkpoint fast (start at once, I/O burst) or spread (gentle, may take up to checkpoint_timeout)
 * @param walWait    how long to wait after pg_basebackup for the WAL it needs to be archived
 * @param timeout    pg_basebackup is killed after this long
 * @param maxRate    pg_basebackup's transfer limit in bytes per second (its -r), to spare a busy server's I/O
 * @param incrementalFallback an incremental backup with no usable parent (none, or its backup_manifest missing or
 *                   failing its checksum) is taken as a full one instead of failing
 * @param method     how a full backup reads the cluster: through pg_basebackup (in the runner), or the daemon reads
 *                   {@code dataDirectory} itself between pg_backup_start and pg_backup_stop
 * @param dataDirectory the server's data directory as the daemon sees it (method files only)
 * @param compressOn where pg_basebackup's tar is compressed: by PostgreSQL (server, 15 and later; the daemon stores
 *                   the bytes as they come), by the daemon, or auto: the server where it can
 */
public record BaseBackupConfig(Checkpoint checkpoint, Duration walWait, Duration timeout, OptionalLong maxRate, boolean incrementalFallback,
                               Method method, Optional<Path> dataDirectory, CompressOn compressOn) {
    public enum Checkpoint { FAST, SPREAD }

    public enum Method { PG_BASEBACKUP, FILES }

    public enum CompressOn { AUTO, SERVER, DAEMON }

    public BaseBackupConfig(Checkpoint checkpoint, Duration walWait, Duration timeout, OptionalLong maxRate, boolean incrementalFallback,
                            Method method, Optional<Path> dataDirectory) {
        this(checkpoint, walWait, timeout, maxRate, incrementalFallback, method, dataDirectory, CompressOn.AUTO);
    }

    public static BaseBackupConfig defaults() {
        return new BaseBackupConfig(Checkpoint.FAST, Duration.ofMinutes(10), Duration.ofHours(24), OptionalLong.empty(), false,
                Method.PG_BASEBACKUP, Optional.empty());
    }
}
