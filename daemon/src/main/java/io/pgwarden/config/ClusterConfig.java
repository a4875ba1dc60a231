package io.pgwarden.config;

import java.util.Optional;
import java.util.OptionalLong;

/**
 * One PostgreSQL cluster pgwarden archives.
 * @param systemIdentifier when set, pins the cluster to this system; otherwise the first accepted segment pins it
 * @param connection       how to reach the server for backups (absent: WAL archiving only)
 * @param runner           where the client tools run (default: local processes)
 * @param archive          when a WAL push is acknowledged (repository or local spool)
 */
public record ClusterConfig(String name, Secret walToken, OptionalLong systemIdentifier, Optional<ConnectionConfig> connection,
                            RunnerConfig runner, BaseBackupConfig baseBackup, DumpConfig dump, SchedulesConfig schedules,
                            RestoreTestConfig restoreTest, RetentionConfig retention, ArchiveConfig archive) {
}
