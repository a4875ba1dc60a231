package io.pgwarden.backup;

import io.pgwarden.config.BaseBackupConfig;
import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.ConnectionConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.BackupSession;
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
        return take(cluster, runner, id, false);
    }

    /**
     * An incremental backup (PostgreSQL 17+): only the blocks changed since the cluster's newest backup, which
     * pg_basebackup learns from that backup's backup_manifest and the server's WAL summaries (summarize_wal).
     */
    public BaseBackupManifest incremental(String cluster, ToolRunner runner, String id) {
        return take(cluster, runner, id, true);
    }

    private BaseBackupManifest take(String cluster, ToolRunner runner, String id, boolean incremental) {
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
            boolean files = !incremental && clusterConfig.baseBackup().method() == BaseBackupConfig.Method.FILES;
            String toolVersion = files ? "pgwarden data directory copy" : ToolVersions.checked(runner, "pg_basebackup", server, "base-backup", id);
            Optional<Parent> parent = incremental ? parentOrFallback(clusterConfig, id, server, connection) : Optional.empty();
            Streamed streamed;
            try {
                streamed = files ? copyDataDirectory(clusterConfig, server, connection, id, dataKey)
                        : stream(clusterConfig, runner, server, connection, id, dataKey, parent.map(Parent::manifestFile).orElse(null));
            } catch (RuntimeException e) {
                if (!files) io.pgwarden.pg.ServerBackupEnd.terminate(cluster, connection, "pgwarden " + id);
                throw e;
            } finally {
                parent.ifPresent(Parent::discard);
            }
            // Why keep PostgreSQL's manifest as an object: an incremental backup hands its parent's to pg_basebackup.
            BaseBackupManifest.BackupManifestObject pgManifest = storePgManifest(cluster, id, streamed.capture());
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
                    toolVersion, dataKey, repo.compression().name().toLowerCase(), streamed.rawBytes(), streamed.storedBytes(), null,
                    streamed.encryption(), pgManifest, parent.isPresent() ? BaseBackupManifest.INCREMENTAL : BaseBackupManifest.FULL,
                    parent.map(p -> p.backup().backupId()).orElse(null), streamed.storedSha256());
            RepositoryJson.write(storage, RepositoryLayout.baseBackupManifest(cluster, id), manifest);
            log.info("cluster '{}': {} backup {} committed: {} bytes raw, {} stored, LSN {} to {}{}", cluster, manifest.kind(), id,
                    manifest.rawBytes(), manifest.storedBytes(), manifest.startLsn(), manifest.stopLsn(),
                    parent.map(p -> ", on top of " + p.backup().backupId()).orElse(""));
            return manifest;
        } catch (RuntimeException e) {
            abandon(cluster, id, incremental ? "incremental" : "base", dataKey, started, e);
            throw e;
        }
    }

    /**
     * @param capture what the tar's backup_manifest member was: its copy on disk and its end (empty if there was none)
     */
    private record Streamed(BackupLabel label, ManifestCopy capture, long rawBytes, long storedBytes, String storedSha256,
                            io.pgwarden.repository.Sealed encryption, java.util.OptionalLong stopLsn) {
        Streamed(BackupLabel label, ManifestCopy capture, long rawBytes, long storedBytes, String storedSha256,
                 io.pgwarden.repository.Sealed encryption) {
            this(label, capture, rawBytes, storedBytes, storedSha256, encryption, java.util.OptionalLong.empty());
        }

        Optional<String> manifestEnd() {
            return capture == null ? Optional.empty() : capture.manifestEnd();
        }

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
     * A standby writes no backup history file and archives nothing itself: the stop point is what pg_backup_stop
     * returned (method files) or the end of the last WAL range in the backup manifest (the standby's replay position
     * when the backup stopped), and that WAL reaches the repository through the primary's archive_command.
     */
    private static StopPoint standbyStop(String cluster, String id, Streamed streamed) {
        String what = "cluster '" + cluster + "': base backup " + id + " from a standby";
        if (streamed.stopLsn().isPresent()) {
            log.info("{}: stops at {} (pg_backup_stop); waiting for the primary to archive it", what, Lsn.format(streamed.stopLsn().getAsLong()));
            return new StopPoint(streamed.label().startTimeline(), streamed.stopLsn().getAsLong(), null);
        }
        String manifest = streamed.manifestEnd().orElseThrow(() -> new PgwardenException(ErrorCode.TOOL,
                what + ": the tar from pg_basebackup has no backup_manifest to read the stop point from"));
        ManifestWalRange range = ManifestWalRange.last(manifest).orElseThrow(() -> new PgwardenException(ErrorCode.TOOL,
                what + ": its backup_manifest has no WAL-Ranges"));
        log.info("{}: stops at {} on timeline {} (backup manifest); waiting for the primary to archive it", what,
                Lsn.format(range.endLsn()), range.timeline());
        return new StopPoint(range.timeline(), range.endLsn(), null);
    }

    /**
     * The backup an incremental one builds on: the cluster's newest, if the server can take an incremental backup at
     * all and that backup kept its backup_manifest. Refused loudly otherwise, before anything is uploaded.
     */
    private BaseBackupManifest parent(String cluster, String id, ServerInfo server, ConnectionConfig connection) {
        String what = "cluster '" + cluster + "': incremental backup " + id;
        if (server.major() < 17) {
            throw new PgwardenException(ErrorCode.CONFIG, what + ": incremental backups need PostgreSQL 17 or newer; the server runs "
                    + server.major() + "; HINT: take full base backups (kind base) only");
        }
        String summarize = ServerProbe.setting(cluster, connection, "summarize_wal").orElse("off");
        if (!summarize.equals("on")) {
            throw new PgwardenException(ErrorCode.CONFIG, what + ": the server has summarize_wal = " + summarize
                    + " (pg_basebackup --incremental needs WAL summaries); HINT: ALTER SYSTEM SET summarize_wal = on;"
                    + " SELECT pg_reload_conf(); then take a full base backup, which the next incremental builds on");
        }
        List<BaseBackupManifest> backups = new io.pgwarden.repository.Catalog(storage).baseBackups(cluster);
        BaseBackupManifest newest = backups.stream().max(java.util.Comparator.comparing(BaseBackupManifest::stopTime))
                .orElseThrow(() -> new PgwardenException(ErrorCode.NOT_FOUND, what + ": the cluster has no base backup to build on;"
                        + " HINT: take a full base backup first"));
        if (newest.backupManifest() == null) {
            throw new PgwardenException(ErrorCode.NOT_FOUND, what + ": its parent, base backup " + newest.backupId()
                    + ", has no stored backup_manifest (taken with baseBackup.method: files, or before pgwarden kept it); HINT: take a full"
                    + " base backup with method: pg_basebackup first");
        }
        return newest;
    }

    /** The parent's backup_manifest, verified against its SHA-256, in a local file that pg_basebackup reads. */
    private java.nio.file.Path parentManifestFile(BaseBackupManifest parent) {
        try {
            java.nio.file.Path file = spool().newFile("parent-manifest");
            try (VerifiedObject object = io.pgwarden.repository.BackupObjects.openBasePgManifest(storage, wal.encoding(), parent);
                 java.io.OutputStream out = java.nio.file.Files.newOutputStream(file)) {
                object.writeTo(out);
                return file;
            } catch (IOException | RuntimeException e) {
                java.nio.file.Files.deleteIfExists(file);
                throw e;
            }
        } catch (IOException e) {
            throw PgwardenException.unavailable("cannot read the backup_manifest of base backup " + parent.backupId() + " into '"
                    + config.server().spoolDir() + "': " + e.getMessage(), e);
        }
    }

    /** The backup an incremental builds on, and its backup_manifest (verified) in a local file for pg_basebackup. */
    private record Parent(BaseBackupManifest backup, java.nio.file.Path manifestFile) {
        void discard() {
            try {
                java.nio.file.Files.deleteIfExists(manifestFile);
            } catch (IOException e) {
                log.warn("cannot remove '{}': {}", manifestFile, e.getMessage());
            }
        }
    }

    /**
     * The parent of an incremental backup; when there is none, or its backup_manifest is missing or fails its
     * checksum, empty (a full backup instead) if the cluster is configured to fall back, else the refusal.
     */
    private Optional<Parent> parentOrFallback(ClusterConfig clusterConfig, String id, ServerInfo server, ConnectionConfig connection) {
        String cluster = clusterConfig.name();
        try {
            BaseBackupManifest parent = parent(cluster, id, server, connection);
            return Optional.of(new Parent(parent, parentManifestFile(parent)));
        } catch (PgwardenException e) {
            boolean unusable = e.code() == ErrorCode.NOT_FOUND || e.code() == ErrorCode.INTEGRITY;
            if (!unusable || !clusterConfig.baseBackup().incrementalFallback()) throw e;
            log.warn("cluster '{}': incremental backup {} is taken as a full backup (baseBackup.incrementalFallback: full): {}", cluster, id,
                    e.getMessage());
            return Optional.empty();
        }
    }

    /** Runs pg_basebackup; its tar goes to the repository as it is produced, and the upload completes only on exit 0. */
    private Streamed stream(ClusterConfig clusterConfig, ToolRunner runner, ServerInfo server, ConnectionConfig connection, String id,
                            String dataKey, java.nio.file.Path parentManifest) {
        Optional<io.pgwarden.runner.OutputDir> compressedBy = serverCompressing(clusterConfig, runner, server, id);
        if (compressedBy.isPresent()) {
            try (io.pgwarden.runner.OutputDir dir = compressedBy.get()) {
                return streamCompressedByServer(clusterConfig, runner, server, connection, id, dataKey, parentManifest, dir);
            }
        }
        String cluster = clusterConfig.name();
        List<String> args = new ArrayList<>(List.of("-D", "-", "-Ft"));
        args.addAll(pgBasebackupOptions(clusterConfig, id, parentManifest));
        ToolInvocation invocation = new ToolInvocation("pg_basebackup", args, server.major(),
                clusterConfig.runner().toolEnvironment(connection), clusterConfig.baseBackup().timeout(), "base-backup", id);
        AtomicReference<BackupLabelSniffer> sniffer = new AtomicReference<>();
        AtomicReference<BackupManifestCapture> manifest = new AtomicReference<>();
        ToolOutputUpload.Uploaded uploaded;
        try {
            // Why a stop: at the end PostgreSQL waits for the backup's WAL to be archived, which a repository that is
            // gone never lets happen, and pg_basebackup's stdout stays quiet until then.
            uploaded = new ToolOutputUpload(storage, wal).run(runner, invocation, parentManifest == null ? null : newInputStream(parentManifest),
                    dataKey, stdout -> {
                sniffer.set(new BackupLabelSniffer(stdout));
                manifest.set(new BackupManifestCapture(sniffer.get(), spool()));
                return manifest.get();
            }, () -> io.pgwarden.pg.ServerBackupEnd.terminate(cluster, connection, "pgwarden " + id), "cluster '" + cluster + "': base backup " + id);
        } catch (RuntimeException e) {
            discard(manifest.get());
            throw e;
        }
        Optional<String> labelText = sniffer.get().backupLabel();
        if (labelText.isEmpty()) {
            discard(manifest.get());
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': base backup " + id
                    + ": the tar from pg_basebackup does not start with backup_label");
        }
        return new Streamed(BackupLabel.parse(labelText.get(), "backup_label of base backup " + id), manifest.get(),
                uploaded.rawBytes(), uploaded.storedBytes(), uploaded.storedSha256(), uploaded.encryption());
    }

    /** pg_basebackup's options beside where its tar goes. */
    private static List<String> pgBasebackupOptions(ClusterConfig clusterConfig, String id, java.nio.file.Path parentManifest) {
        String checkpoint = clusterConfig.baseBackup().checkpoint().name().toLowerCase();
        List<String> args = new ArrayList<>(List.of("-X", "none", "-c", checkpoint, "-l", "pgwarden " + id));
        // The parent's manifest comes on stdin: in a sidecar, a file of the daemon's is not there.
        if (parentManifest != null) args.add("--incremental=/dev/stdin");
        clusterConfig.baseBackup().maxRate().ifPresent(rate -> args.addAll(List.of("-r", (rate >> 10) + "k")));
        return args;
    }

    /**
     * Whether PostgreSQL compresses the tar (baseBackup.compressOn): then a directory pg_basebackup writes into, as
     * the daemon cannot take a compressed tar from its stdout with the manifest in it (pg_basebackup refuses to add
     * one to a compressed tar). Empty: the daemon compresses. With compressOn: server, what prevents it is an error.
     */
    private Optional<io.pgwarden.runner.OutputDir> serverCompressing(ClusterConfig clusterConfig, ToolRunner runner, ServerInfo server, String id) {
        BaseBackupConfig.CompressOn on = clusterConfig.baseBackup().compressOn();
        if (on == BaseBackupConfig.CompressOn.DAEMON) return Optional.empty();
        // Why: PostgreSQL throttles (-r) after compressing, so maxRate would bound the compressed bytes and let the
        // server read its disks about twenty times as fast; maxRate is there to spare the server.
        if (on == BaseBackupConfig.CompressOn.AUTO && clusterConfig.baseBackup().maxRate().isPresent()) return Optional.empty();
        String cannot = server.major() < 15 ? "PostgreSQL " + server.major() + " cannot compress a base backup (15 and later can)"
                : config.repository().compression() != io.pgwarden.repository.codec.Compression.ZSTD
                ? "the repository's compression is " + config.repository().compression().name().toLowerCase() + " (the server compresses into zstd only)"
                : null;
        io.pgwarden.storage.StagingDir spool = spool();
        Optional<io.pgwarden.runner.OutputDir> dir = cannot != null ? Optional.empty()
                : runner.outputDir(spool.dir(), io.pgwarden.storage.StagingDir.filePrefix(spool.owner()) + "base-backup-");
        if (cannot == null && dir.isEmpty()) cannot = "the sidecars have no runner.streamDir to write the compressed tar into";
        if (dir.isEmpty() && on == BaseBackupConfig.CompressOn.SERVER) {
            throw new PgwardenException(ErrorCode.CONFIG, "cluster '" + clusterConfig.name() + "': base backup " + id
                    + ": baseBackup.compressOn is server, but " + cannot + "; HINT: set baseBackup.compressOn: auto or daemon");
        }
        return dir;
    }

    /**
     * pg_basebackup with PostgreSQL compressing (zstd on two of the server's threads) into {@code dir}: the daemon
     * stores base.tar.zst as it grows, without compressing it again, and keeps the backup_manifest written beside it.
     */
    private Streamed streamCompressedByServer(ClusterConfig clusterConfig, ToolRunner runner, ServerInfo server, ConnectionConfig connection,
                                              String id, String dataKey, java.nio.file.Path parentManifest, io.pgwarden.runner.OutputDir dir) {
        String cluster = clusterConfig.name();
        String what = "cluster '" + cluster + "': base backup " + id;
        List<String> args = new ArrayList<>(List.of("-D", dir.forTool() + "/backup", "-Ft",
                "--compress=server-zstd:level=" + config.repository().compressionLevel() + ",workers=2"));
        args.addAll(pgBasebackupOptions(clusterConfig, id, parentManifest));
        ToolInvocation invocation = new ToolInvocation("pg_basebackup", args, server.major(), clusterConfig.runner().toolEnvironment(connection),
                clusterConfig.baseBackup().timeout(), "base-backup", id, ToolInvocation.Container.writingInto(dir));
        java.nio.file.Path written = dir.local().resolve("backup");
        ToolOutputUpload.CompressedUpload upload = new ToolOutputUpload(storage, wal).runCompressedFile(runner, invocation,
                parentManifest == null ? null : newInputStream(parentManifest), written.resolve("base.tar.zst"), dataKey,
                BackupLabelSniffer.KEEP, what);
        ToolOutputUpload.Uploaded uploaded = upload.uploaded();
        Optional<String> labelText = BackupLabelSniffer.backupLabel(upload.head());
        if (labelText.isEmpty()) {
            throw new PgwardenException(ErrorCode.TOOL, what + ": the tar from pg_basebackup does not start with backup_label");
        }
        ManifestFileCopy manifest;
        try {
            manifest = ManifestFileCopy.of(written.resolve(BackupManifestCapture.MEMBER), spool()).orElse(null);
        } catch (IOException e) {
            throw PgwardenException.unavailable(what + ": cannot copy pg_basebackup's backup_manifest into '" + config.server().spoolDir() + "': "
                    + e.getMessage(), e);
        }
        return new Streamed(BackupLabel.parse(labelText.get(), "backup_label of base backup " + id), manifest,
                uploaded.rawBytes(), uploaded.storedBytes(), uploaded.storedSha256(), uploaded.encryption());
    }

    /**
     * A full backup the daemon reads itself: pg_backup_start on one session, the data directory as a tar straight into
     * the repository (zstd on two workers), pg_backup_stop without PostgreSQL's archive wait (the WAL is awaited in the
     * repository), backup_label last. No pg_basebackup, no second copy of every byte through a socket and a pipe.
     */
    private Streamed copyDataDirectory(ClusterConfig clusterConfig, ServerInfo server, ConnectionConfig connection, String id, String dataKey) {
        String cluster = clusterConfig.name();
        BaseBackupConfig settings = clusterConfig.baseBackup();
        java.nio.file.Path dataDirectory = settings.dataDirectory().orElseThrow();
        io.pgwarden.pg.DataDirectoryIdentity.check(cluster, dataDirectory, server);
        String what = "cluster '" + cluster + "': base backup " + id + " of '" + dataDirectory + "'";
        java.util.Map<String, String> serverSettings = ServerProbe.settings(cluster, connection, "data_checksums", "segment_size", "block_size");
        boolean checksums = serverSettings.getOrDefault("data_checksums", "off").equals("on");
        long segmentBlocks = Long.parseLong(serverSettings.getOrDefault("segment_size", "131072"));
        String blockSize = serverSettings.getOrDefault("block_size", "8192");
        if (checksums && !blockSize.equals(Integer.toString(io.pgwarden.pg.PageChecksum.BLOCK))) {
            throw new PgwardenException(ErrorCode.CONFIG, what + ": the server's block_size is " + blockSize + "; page checksums are"
                    + " verified for 8192 only; HINT: use baseBackup.method: pg_basebackup");
        }
        BackupSession.Stopped[] stopped = new BackupSession.Stopped[1];
        ToolOutputUpload.Uploaded uploaded;
        try (BackupSession session = BackupSession.start(cluster, connection, server.major(), "pgwarden " + id,
                settings.checkpoint() == BaseBackupConfig.Checkpoint.FAST, settings.timeout());
             CopyDeadline deadline = CopyDeadline.after(settings.timeout(), session)) {
            try {
                uploaded = new ToolOutputUpload(storage, wal).produced(dataKey, 2, raw -> {
                    DataDirectoryTar tar = new DataDirectoryTar(dataDirectory, raw,
                            checksums ? new DataDirectoryTar.PageChecks(session.startLsn(), segmentBlocks) : null);
                    tar.writeFiles();
                    if (tar.corruptPages() > 0) {
                        // As pg_basebackup does: a backup holding pages that fail their checksum is refused.
                        throw new PgwardenException(ErrorCode.INTEGRITY, what + ": " + tar.corruptPages() + " page(s) failed their"
                                + " checksum (read twice): " + String.join(", ", tar.corruptPagesReported())
                                + (tar.corruptPages() > tar.corruptPagesReported().size() ? ", ..." : "")
                                + "; nothing was stored; HINT: the data directory holds corrupt pages: find the relation by its file"
                                + " (pg_filenode_relation) and repair it before the next backup");
                    }
                    stopped[0] = session.stop();
                    if (stopped[0].tablespaceMap() != null && !stopped[0].tablespaceMap().isBlank()) {
                        throw new PgwardenException(ErrorCode.TOOL, what + ": the server reports tablespaces; not supported yet");
                    }
                    tar.finish(stopped[0].labelFile(), clock.instant().getEpochSecond());
                    log.info("{}: {} files read", what, tar.files());
                }, what);
            } catch (RuntimeException e) {
                if (deadline.passed()) {
                    throw new PgwardenException(ErrorCode.TOOL, what + " did not finish within baseBackup.timeout ("
                            + settings.timeout().toSeconds() + "s): stopped, and the server's backup ended; nothing was stored", e);
                }
                throw e;
            }
        }
        return new Streamed(BackupLabel.parse(stopped[0].labelFile(), "backup_label of base backup " + id), null, uploaded.rawBytes(),
                uploaded.storedBytes(), uploaded.storedSha256(), uploaded.encryption(), java.util.OptionalLong.of(stopped[0].stopLsn()));
    }

    /** The captured copy of pg_basebackup's backup_manifest, stored encoded beside the tar; null if the tar had none. */
    private BaseBackupManifest.BackupManifestObject storePgManifest(String cluster, String id, ManifestCopy capture) {
        try {
            java.nio.file.Path file = capture == null ? null : capture.manifestFile().orElse(null);
            if (file == null) return null;
            String key = RepositoryLayout.baseBackupPgManifest(cluster, id, config.repository().compression());
            ToolOutputUpload.Uploaded stored = new ToolOutputUpload(storage, wal).file(file, key);
            return new BaseBackupManifest.BackupManifestObject(key, stored.rawBytes(), stored.storedBytes(), stored.sha256());
        } finally {
            discard(capture);
        }
    }

    private static java.io.InputStream newInputStream(java.nio.file.Path file) {
        try {
            return java.nio.file.Files.newInputStream(file);
        } catch (IOException e) {
            throw PgwardenException.unavailable("cannot read '" + file + "': " + e.getMessage(), e);
        }
    }

    /** The daemon's spool: a restart after a kill removes a left copy. */
    private io.pgwarden.storage.StagingDir spool() {
        return new io.pgwarden.storage.StagingDir(config.server().spoolDir(), config.server().instance());
    }

    private static void discard(ManifestCopy capture) {
        if (capture == null) return;
        try {
            capture.close();
        } catch (IOException e) {
            log.warn("cannot remove a local copy of a backup manifest: {}", e.getMessage());
        }
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

    /** @param kind "base" or "incremental": the failure record's kind, as the schedule's misfire check reads it */
    private void abandon(String cluster, String id, String kind, String dataKey, Instant started, RuntimeException cause) {
        log.error("cluster '{}': {} backup {} failed: {}", cluster, kind, id, cause.getMessage());
        FailureRecords.deleteLeftovers(storage, List.of(dataKey, RepositoryLayout.baseBackupPgManifest(cluster, id, config.repository().compression())),
                "cluster '" + cluster + "': failed base backup " + id);
        FailureRecords.write(storage, RepositoryLayout.failureRecord(cluster, kind, id), new FailureRecord(kind, id, cluster, null,
                started, clock.instant(), ErrorCode.of(cause).reason(), cause.getMessage()), "cluster '" + cluster + "': base backup " + id);
    }
}
