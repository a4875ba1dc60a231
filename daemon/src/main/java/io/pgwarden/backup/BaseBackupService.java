package io.pgwarden.backup;

import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.ConnectionConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.ServerProbe;
import io.pgwarden.pg.BackupLabel;
import io.pgwarden.pg.Lsn;
import io.pgwarden.pg.ManifestWalRange;
import io.pgwarden.pg.ServerInfo;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.ClusterInfo;
import io.pgwarden.repository.FailureRecord;
import io.pgwarden.repository.FailureRecords;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.RunIds;
import io.pgwarden.repository.VerifiedObject;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A base backup: pg_basebackup's tar streamed from the runner through hashing and compression into the repository,
 * then, once PostgreSQL has archived the WAL the backup needs, manifest.json written last as the commit marker.
 * A backup that fails leaves no data object, only a failure record.
 */
public final class BaseBackupService {
    private static final Logger log = LoggerFactory.getLogger(BaseBackupService.class);

    private final PgwardenConfig config;
    private final StorageDriver storage;
    private final WalRepository wal;
    private final ClusterInfoStore clusterInfo;
    private final Clock clock;

    public BaseBackupService(PgwardenConfig config, StorageDriver storage, WalRepository wal, ClusterInfoStore clusterInfo, Clock clock) {
        this.config = config;
        this.storage = storage;
        this.wal = wal;
        this.clusterInfo = clusterInfo;
        this.clock = clock;
    }

    public BaseBackupManifest backup(String cluster, ToolRunner runner) {
        return backup(cluster, runner, RunIds.next(clock));
    }

    /** @param id the backup's id, from {@link RunIds} (the caller may have announced it already) */
    public BaseBackupManifest backup(String cluster, ToolRunner runner, String id) {
        ClusterConfig clusterConfig = config.cluster(cluster);
        ConnectionConfig connection = clusterConfig.connection().orElseThrow(() -> new PgwardenException(ErrorCode.CONFIG,
                "cluster '" + cluster + "' has no connection: base backups need clusters." + cluster + ".connection"));
        Instant started = clock.instant();
        RepositoryConfig repo = config.repository();
        String dataKey = RepositoryLayout.baseBackupData(cluster, id, repo.compression());
        try {
            // Why first: the server's version picks the tools, and what we cannot back up is refused before any upload.
            ServerInfo server = ServerProbe.probe(cluster, connection);
            refuseTablespaces(cluster, server);
            String toolVersion = ToolVersions.checked(runner, "pg_basebackup", server, "base-backup", id);
            Streamed streamed = stream(clusterConfig, runner, server, connection, id, dataKey);
            // Why wait: the backup is only restorable with the WAL up to its stop point, which arrives via archive_command.
            long segmentSize = clusterInfo.get(cluster).map(ClusterInfo::segmentSize).orElse(server.walSegmentSize());
            Duration walWait = clusterConfig.baseBackup().walWait();
            StopPoint stop = streamed.fromStandby() ? standbyStop(cluster, id, streamed)
                    : primaryStop(cluster, id, streamed.label(), segmentSize, walWait);
            String stopWal = Lsn.walFileBefore(stop.timeline(), stop.lsn(), segmentSize);
            awaitWal(cluster, id, stopWal, walWait);
            BaseBackupManifest manifest = new BaseBackupManifest(1, id, cluster, "pgwarden " + id,
                    Lsn.format(streamed.label().startLsn()), Lsn.format(stop.lsn()), streamed.label().startTimeline(),
                    streamed.label().startWalFile(), stopWal, stop.historyFile(), started, clock.instant(),
                    server.versionNum(), server.systemIdentifier().isPresent() ? Long.toUnsignedString(server.systemIdentifier().getAsLong()) : null,
                    toolVersion, dataKey, repo.compression().name().toLowerCase(), streamed.rawBytes(), streamed.storedBytes(), streamed.sha256(),
                    streamed.encryption());
            RepositoryJson.write(storage, RepositoryLayout.baseBackupManifest(cluster, id), manifest);
            log.info("cluster '{}': base backup {} committed: {} bytes raw, {} stored, LSN {} to {}", cluster, id,
                    manifest.rawBytes(), manifest.storedBytes(), manifest.startLsn(), manifest.stopLsn());
            return manifest;
        } catch (RuntimeException e) {
            abandon(cluster, id, dataKey, started, e);
            throw e;
        }
    }

    /**
     * @param manifestEnd the end of the backup_manifest pg_basebackup added to the tar (empty if it added none)
     */
    private record Streamed(BackupLabel label, Optional<String> manifestEnd, long rawBytes, long storedBytes, String sha256,
                            io.pgwarden.repository.Sealed encryption) {
        /** pg_basebackup ran against a standby (PostgreSQL writes "BACKUP FROM: standby" into its backup_label). */
        boolean fromStandby() {
            return label.get("BACKUP FROM").map("standby"::equals).orElse(false);
        }
    }

    /** Where the backup's WAL ends: recovery must replay up to here before the backup is consistent. */
    private record StopPoint(int timeline, long lsn, String historyFile) {
    }

    /** On a primary, PostgreSQL archives a backup history file (.backup) that holds the stop point. */
    private StopPoint primaryStop(String cluster, String id, BackupLabel label, long segmentSize, Duration walWait) {
        BackupLabel history = awaitBackupHistory(cluster, id, label, segmentSize, walWait);
        long stopLsn = history.stopLsn().orElseThrow(() -> new PgwardenException(ErrorCode.TOOL,
                "cluster '" + cluster + "': backup history file of base backup " + id + " has no STOP WAL LOCATION"));
        return new StopPoint(history.stopTimeline().orElse(label.startTimeline()), stopLsn, label.historyFileName(segmentSize));
    }

    /**
     * A standby writes no backup history file and archives nothing itself: the stop point is the end of the last WAL
     * range in the backup manifest (the standby's replay position when the backup stopped), and that WAL reaches the
     * repository through the primary's archive_command.
     */
    private static StopPoint standbyStop(String cluster, String id, Streamed streamed) {
        String what = "cluster '" + cluster + "': base backup " + id + " from a standby";
        String manifest = streamed.manifestEnd().orElseThrow(() -> new PgwardenException(ErrorCode.TOOL,
                what + ": the tar from pg_basebackup has no backup_manifest to read the stop point from"));
        ManifestWalRange range = ManifestWalRange.last(manifest).orElseThrow(() -> new PgwardenException(ErrorCode.TOOL,
                what + ": its backup_manifest has no WAL-Ranges"));
        log.info("{}: stops at {} on timeline {} (backup manifest); waiting for the primary to archive it", what,
                Lsn.format(range.endLsn()), range.timeline());
        return new StopPoint(range.timeline(), range.endLsn(), null);
    }

    /** Runs pg_basebackup; its tar goes to the repository as it is produced, and the upload completes only on exit 0. */
    private Streamed stream(ClusterConfig clusterConfig, ToolRunner runner, ServerInfo server, ConnectionConfig connection, String id,
                            String dataKey) {
        String cluster = clusterConfig.name();
        String checkpoint = clusterConfig.baseBackup().checkpoint().name().toLowerCase();
        List<String> args = new ArrayList<>(List.of("-D", "-", "-Ft", "-X", "none", "-c", checkpoint, "-l", "pgwarden " + id));
        clusterConfig.baseBackup().maxRate().ifPresent(rate -> args.addAll(List.of("-r", (rate >> 10) + "k")));
        ToolInvocation invocation = new ToolInvocation("pg_basebackup", args, server.major(),
                clusterConfig.runner().toolEnvironment(connection), clusterConfig.baseBackup().timeout(), "base-backup", id);
        AtomicReference<BackupLabelSniffer> sniffer = new AtomicReference<>();
        AtomicReference<BackupManifestTail> manifest = new AtomicReference<>();
        ToolOutputUpload.Uploaded uploaded = new ToolOutputUpload(storage, wal).run(runner, invocation, dataKey, stdout -> {
            sniffer.set(new BackupLabelSniffer(stdout));
            manifest.set(new BackupManifestTail(sniffer.get()));
            return manifest.get();
        }, "cluster '" + cluster + "': base backup " + id);
        String labelText = sniffer.get().backupLabel().orElseThrow(() -> new PgwardenException(ErrorCode.TOOL,
                "cluster '" + cluster + "': base backup " + id + ": the tar from pg_basebackup does not start with backup_label"));
        return new Streamed(BackupLabel.parse(labelText, "backup_label of base backup " + id), manifest.get().manifestEnd(),
                uploaded.rawBytes(), uploaded.storedBytes(), uploaded.sha256(), uploaded.encryption());
    }

    private BackupLabel awaitBackupHistory(String cluster, String id, BackupLabel label, long segmentSize, Duration walWait) {
        String name = label.historyFileName(segmentSize);
        awaitWal(cluster, id, name, walWait);
        try (VerifiedObject object = wal.open(cluster, WalFileName.parse(name)).orElseThrow()) {
            ByteArrayOutputStream text = new ByteArrayOutputStream();
            object.writeTo(text);
            return BackupLabel.parse(text.toString(StandardCharsets.UTF_8), "backup history file " + name);
        } catch (IOException e) {
            throw PgwardenException.unavailable("cannot read backup history file '" + name + "' of cluster '" + cluster + "': " + e.getMessage(), e);
        }
    }

    private void awaitWal(String cluster, String id, String walFile, Duration walWait) {
        WalFileName name = WalFileName.parse(walFile);
        long deadline = System.nanoTime() + walWait.toNanos();
        while (wal.find(cluster, name).isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new PgwardenException(ErrorCode.WAL_MISSING, "cluster '" + cluster + "': base backup " + id + ": WAL file '" + walFile
                        + "' did not reach the repository within " + walWait.toSeconds() + "s; HINT: check archive_command and pg_stat_archiver");
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new PgwardenException(ErrorCode.TOOL, "interrupted while waiting for WAL file '" + walFile + "'", e);
            }
        }
    }

    private static void refuseTablespaces(String cluster, ServerInfo server) {
        if (!server.tablespaces().isEmpty()) {
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "' has tablespaces " + String.join(", ", server.tablespaces())
                    + ": base backups of clusters with tablespaces are not supported yet; nothing was uploaded");
        }
    }

    private void abandon(String cluster, String id, String dataKey, Instant started, RuntimeException cause) {
        log.error("cluster '{}': base backup {} failed: {}", cluster, id, cause.getMessage());
        try {
            storage.delete(dataKey);
        } catch (RuntimeException e) {
            log.warn("cluster '{}': could not delete '{}' of failed base backup {} (garbage collection will): {}", cluster, dataKey, id,
                    e.getMessage());
        }
        FailureRecords.write(storage, RepositoryLayout.failureRecord(cluster, "base", id), new FailureRecord("base", id, cluster, null,
                started, clock.instant(), ErrorCode.of(cause).reason(), cause.getMessage()), "cluster '" + cluster + "': base backup " + id);
    }
}
