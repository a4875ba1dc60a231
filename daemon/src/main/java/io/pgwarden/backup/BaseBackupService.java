package io.pgwarden.backup;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.ConnectionConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.BackupLabel;
import io.pgwarden.pg.Lsn;
import io.pgwarden.pg.ServerInfo;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.ClusterInfo;
import io.pgwarden.repository.FailureRecord;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.VerifiedObject;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.repository.codec.BlockingPipe;
import io.pgwarden.repository.codec.Codecs;
import io.pgwarden.repository.codec.HashingInputStream;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
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
    private static final ObjectMapper JSON = RepositoryJson.MAPPER;
    private static final DateTimeFormatter IDS = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    /** Uploads run beside the tool's output; virtual threads, shared (an executor per backup was never closed). */
    private static final java.util.concurrent.ExecutorService UPLOADS = Executors.newVirtualThreadPerTaskExecutor();

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
        ClusterConfig clusterConfig = config.cluster(cluster);
        ConnectionConfig connection = clusterConfig.connection().orElseThrow(() -> new PgwardenException(ErrorCode.CONFIG,
                "cluster '" + cluster + "' has no connection: base backups need clusters." + cluster + ".connection"));
        Instant started = clock.instant();
        // Sortable by time; the suffix keeps two backups started in the same second apart.
        String id = IDS.format(started) + "-" + "%04x".formatted(java.util.concurrent.ThreadLocalRandom.current().nextInt(0x10000));
        RepositoryConfig repo = config.repository();
        String dataKey = RepositoryLayout.baseBackupData(cluster, id, repo.compression());
        try {
            // Why first: the server's version picks the tools, and what we cannot back up is refused before any upload.
            ServerInfo server = ServerProbe.probe(cluster, connection);
            refuseTablespaces(cluster, server);
            String toolVersion = toolVersion(runner, server, connection, id);
            Streamed streamed = stream(clusterConfig, runner, server, connection, id, dataKey);
            // Why wait: the backup is only restorable with the WAL up to its stop point, which arrives via archive_command.
            long segmentSize = clusterInfo.get(cluster).map(ClusterInfo::segmentSize).orElse(server.walSegmentSize());
            Duration walWait = clusterConfig.baseBackup().walWait();
            BackupLabel history = awaitBackupHistory(cluster, id, streamed.label(), segmentSize, walWait);
            long stopLsn = history.stopLsn().orElseThrow(() -> new PgwardenException(ErrorCode.TOOL,
                    "cluster '" + cluster + "': backup history file of base backup " + id + " has no STOP WAL LOCATION"));
            String stopWal = Lsn.walFileBefore(history.stopTimeline().orElse(streamed.label().startTimeline()), stopLsn, segmentSize);
            awaitWal(cluster, id, stopWal, walWait);
            BaseBackupManifest manifest = new BaseBackupManifest(1, id, cluster, "pgwarden " + id,
                    Lsn.format(streamed.label().startLsn()), Lsn.format(stopLsn), streamed.label().startTimeline(),
                    streamed.label().startWalFile(), stopWal, streamed.label().historyFileName(segmentSize), started, clock.instant(),
                    server.versionNum(), server.systemIdentifier().isPresent() ? Long.toUnsignedString(server.systemIdentifier().getAsLong()) : null,
                    toolVersion, dataKey, repo.compression().name().toLowerCase(), streamed.rawBytes(), streamed.storedBytes(), streamed.sha256());
            writeJson(RepositoryLayout.baseBackupManifest(cluster, id), manifest);
            log.info("cluster '{}': base backup {} committed: {} bytes raw, {} stored, LSN {} to {}", cluster, id,
                    manifest.rawBytes(), manifest.storedBytes(), manifest.startLsn(), manifest.stopLsn());
            return manifest;
        } catch (RuntimeException e) {
            abandon(cluster, id, dataKey, started, e);
            throw e;
        }
    }

    private record Streamed(BackupLabel label, long rawBytes, long storedBytes, String sha256) {
    }

    /** Runs pg_basebackup; its tar goes to the repository as it is produced, and the upload completes only on exit 0. */
    private Streamed stream(ClusterConfig clusterConfig, ToolRunner runner, ServerInfo server, ConnectionConfig connection, String id,
                            String dataKey) {
        String cluster = clusterConfig.name();
        String checkpoint = clusterConfig.baseBackup().checkpoint().name().toLowerCase();
        BlockingPipe pipe = new BlockingPipe();
        CompletableFuture<Void> upload = CompletableFuture.runAsync(() -> storage.put(dataKey, pipe,
                Map.of("codec", config.repository().compression().name().toLowerCase())), UPLOADS);
        AtomicReference<HashingInputStream> raw = new AtomicReference<>();
        AtomicReference<BackupLabelSniffer> sniffer = new AtomicReference<>();
        long[] stored = new long[1];
        ToolResult result;
        try {
            List<String> args = new java.util.ArrayList<>(List.of("-D", "-", "-Ft", "-X", "none", "-c", checkpoint, "-l", "pgwarden " + id));
            clusterConfig.baseBackup().maxRate().ifPresent(rate -> args.addAll(List.of("-r", (rate >> 10) + "k")));
            result = runner.run(new ToolInvocation("pg_basebackup", args, server.major(),
                    clusterConfig.runner().toolEnvironment(connection), clusterConfig.baseBackup().timeout(),
                    "base-backup", id), stdout -> {
                sniffer.set(new BackupLabelSniffer(stdout));
                raw.set(new HashingInputStream(sniffer.get()));
                OutputStream counted = new CountingOutputStream(pipe.writer(1 << 20), stored);
                try (OutputStream z = Codecs.compress(config.repository().compression(), config.repository().compressionLevel(), 1, counted)) {
                    Codecs.pump(raw.get(), z);
                }
            });
        } catch (RuntimeException e) {
            pipe.finish(e);
            throw uploadFailureOr(upload, e);
        }
        if (!result.succeeded()) {
            pipe.finish(new IOException("pg_basebackup failed"));
            upload.exceptionally(x -> null).join();
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': base backup " + id + " failed: "
                    + result.failureSummary("pg_basebackup"));
        }
        pipe.finish(null);
        try {
            upload.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        String labelText = sniffer.get().backupLabel().orElseThrow(() -> new PgwardenException(ErrorCode.TOOL,
                "cluster '" + cluster + "': base backup " + id + ": the tar from pg_basebackup does not start with backup_label"));
        return new Streamed(BackupLabel.parse(labelText, "backup_label of base backup " + id), raw.get().count(), stored[0], raw.get().sha256Hex());
    }

    /** When the tool failed because the upload did (S3 down), the storage error is the one to report. */
    private static RuntimeException uploadFailureOr(CompletableFuture<Void> upload, RuntimeException toolError) {
        try {
            upload.join();
        } catch (CompletionException e) {
            // The upload failing on its own (not because we ended the pipe) is the root cause.
            if (e.getCause() instanceof PgwardenException p && !(p.getCause() instanceof IOException)) return p;
        }
        return toolError;
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
                throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': base backup " + id + ": WAL file '" + walFile
                        + "' did not reach the repository within " + walWait.toSeconds() + "s; HINT: check archive_command and pg_stat_archiver");
            }
            try {
                Thread.sleep(500);
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

    /** The tool's own version; older than the server's major version is refused (pg_basebackup cannot back it up). */
    private String toolVersion(ToolRunner runner, ServerInfo server, ConnectionConfig connection, String id) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ToolResult result = runner.run(new ToolInvocation("pg_basebackup", List.of("--version"), server.major(), Map.of(),
                Duration.ofMinutes(2), "base-backup", id + "-version"), stdout -> stdout.transferTo(out));
        String version = out.toString(StandardCharsets.UTF_8).trim();
        if (!result.succeeded()) throw new PgwardenException(ErrorCode.TOOL, result.failureSummary("pg_basebackup --version"));
        int toolMajor = ToolVersions.major(version);
        if (toolMajor < server.major()) {
            throw new PgwardenException(ErrorCode.TOOL, "'" + version + "' (" + runner.describe(server.major()) + ") is older than the server ("
                    + server.major() + "); HINT: use PostgreSQL " + server.major() + " client tools");
        }
        return version;
    }

    private void abandon(String cluster, String id, String dataKey, Instant started, RuntimeException cause) {
        try {
            storage.delete(dataKey);
            writeJson(RepositoryLayout.failureRecord(cluster, "base", id),
                    new FailureRecord("base", id, cluster, started, clock.instant(), cause.getMessage()));
        } catch (RuntimeException e) {
            log.warn("cluster '{}': could not clean up after failed base backup {}: {}", cluster, id, e.getMessage());
        }
        log.error("cluster '{}': base backup {} failed: {}", cluster, id, cause.getMessage());
    }

    private void writeJson(String key, Object value) {
        try {
            storage.put(key, new ByteArrayInputStream(JSON.writeValueAsBytes(value)), Map.of());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final class CountingOutputStream extends java.io.FilterOutputStream {
        private final long[] count;

        CountingOutputStream(OutputStream out, long[] count) {
            super(out);
            this.count = count;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count[0] += len;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count[0]++;
        }
    }
}
