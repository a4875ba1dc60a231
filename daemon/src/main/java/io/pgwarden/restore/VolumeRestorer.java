package io.pgwarden.restore;

import io.pgwarden.config.Secret;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.repository.BackupObjects;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.VerifiedObject;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.io.BlockingPipe;
import io.pgwarden.runner.DockerToolRunner;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageDriver.ObjectInfo;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Restores into a Docker volume rather than a directory (the docker runner: the daemon need not share a filesystem
 * with the engine; it may itself run in a container). The verified base backup streams into {@code tar -x} in a
 * sidecar that mounts the volume; the WAL recovery needs is staged beside it, so the restored server needs neither
 * network nor token: its restore_command copies from the volume. Then PostgreSQL runs in a container on it.
 * An incremental backup is unpacked with the backups it builds on, each into its own directory, and pg_combinebackup
 * (of the server's major) makes the data directory from them.
 */
final class VolumeRestorer {
    static final String MOUNT = "/pgwarden-restore";
    static final String DATA = MOUNT + "/data";
    static final String WAL = MOUNT + "/wal";
    /** Where the members of an incremental chain are unpacked before pg_combinebackup joins them into DATA. */
    static final String CHAIN = MOUNT + "/chain";
    private static final Duration STEP_TIMEOUT = Duration.ofHours(6);

    private final StorageDriver storage;
    private final WalRepository wal;
    private final DockerToolRunner docker;

    public VolumeRestorer(StorageDriver storage, WalRepository wal, DockerToolRunner docker) {
        this.storage = storage;
        this.wal = wal;
        this.docker = docker;
    }

    /**
     * How the server on the volume runs.
     * @param scratch     a test restore: socket only, pg_hba.conf replaced by local trust; otherwise production's
     *                    pg_hba.conf and listen_addresses '*', published on {@code publishPort} (loopback)
     * @param archiving   false forces archive_mode=off
     * @param psql        libpq environment for queries (see {@link SidecarServer})
     * @param keep        an operator's server: left running, not removed with the daemon's sidecars
     */
    public record ServerOptions(boolean scratch, Integer publishPort, boolean archiving, RecoverySettings recovery,
                                Map<String, Secret> psql, boolean keep) {
    }

    /** Creates the volume and fills it (base backup, WAL, recovery.signal); a failure removes the volume again. */
    public void restore(RestorePlan plan, String volume, String runId, boolean keep, boolean scratch, Progress progress) {
        int major = plan.backup().pgVersionNum() / 10000;
        docker.engine().createVolume(volume, "restore", runId, keep);
        try {
            // The volume's root belongs to root: make the directories the server (user postgres) will own.
            List<BaseBackupManifest> members = plan.members();
            boolean chain = members.size() > 1;
            List<String> install = new ArrayList<>(List.of("-d", "-o", "postgres", "-g", "postgres", "-m", "0700", MOUNT, WAL));
            // A chain: a directory per member, removed by the server's user once combined (pg_combinebackup makes DATA).
            install.add(chain ? CHAIN : DATA);
            for (int i = 0; chain && i < members.size(); i++) install.add(CHAIN + "/" + i);
            run(tool("install", install, major, runId, "prepare", volume, null), "prepare volume '" + volume + "'");
            for (int i = 0; i < members.size(); i++) unpack(members.get(i), chain ? CHAIN + "/" + i : DATA, major, runId, volume, progress);
            if (chain) combine(plan, members.size(), major, runId, volume);
            progress.done();
            feed(tool("tar", List.of("-x", "-C", MOUNT), major, runId, "stage-wal", volume, "postgres"),
                    out -> stage(plan, scratch, out), "stage WAL " + plan.firstWal() + ".." + plan.lastWal() + " into volume '" + volume + "'");
        } catch (RuntimeException e) {
            docker.engine().removeVolume(volume);
            throw e;
        }
    }

    /** Streams one verified base backup into {@code tar -x} in a sidecar, into {@code dir} on the volume. */
    private void unpack(BaseBackupManifest backup, String dir, int major, String runId, String volume, Progress progress) {
        feed(tool("tar", List.of("-x", "-C", dir), major, runId, "unpack", volume, "postgres"), out -> {
            try (VerifiedObject base = BackupObjects.openBase(storage, wal.encoding(), backup); OutputStream counted = progress.counting(out)) {
                CheckedTarCopy.copy(base, backup.backupManifest() == null ? null : () -> BackupObjects.openBasePgManifest(storage, wal.encoding(), backup),
                        counted, "base backup " + backup.backupId() + " (repository object '" + backup.dataKey() + "')");
            }
        }, "unpack base backup " + backup.backupId() + " into volume '" + volume + "'");
    }

    /** pg_combinebackup (the server's major) joins the unpacked chain into DATA, then the members go. */
    private void combine(RestorePlan plan, int members, int major, String runId, String volume) {
        List<String> args = new ArrayList<>();
        for (int i = 0; i < members; i++) args.add(CHAIN + "/" + i);
        args.addAll(List.of("-o", DATA));
        String chain = plan.chainDescription();
        run(tool("pg_combinebackup", args, major, runId, "combine", volume, "postgres"), "combine base backups " + chain + " in volume '" + volume + "'");
        run(tool("rm", List.of("-rf", CHAIN), major, runId, "combine-cleanup", volume, "postgres"), "remove the combined chain from volume '" + volume + "'");
    }

    /** Starts PostgreSQL on a restored volume; the caller waits for promotion and closes it. */
    public SidecarServer start(RestorePlan plan, String volume, String runId, ServerOptions options) {
        int major = plan.backup().pgVersionNum() / 10000;
        List<String> args = new ArrayList<>(List.of("-D", DATA, "-c", "port=5432", "-c", "unix_socket_directories=" + MOUNT,
                "-c", "logging_collector=off", "-c", "listen_addresses=" + (options.scratch() ? "" : "*")));
        if (options.scratch()) args.addAll(List.of("-c", "hba_file=" + MOUNT + "/pg_hba.conf"));
        if (!options.archiving()) args.addAll(List.of("-c", "archive_mode=off"));
        // Recovery settings on the command line outrank postgresql.auto.conf, where a restored copy of a restored
        // cluster still holds its own earlier targets: those are blanked.
        Map<String, String> recovery = options.recovery().values();
        for (String other : List.of("recovery_target", "recovery_target_lsn", "recovery_target_name", "recovery_target_time", "recovery_target_xid")) {
            if (!recovery.containsKey(other)) args.addAll(List.of("-c", other + "="));
        }
        recovery.forEach((name, value) -> args.addAll(List.of("-c", name + "=" + value)));
        ToolInvocation server = new ToolInvocation("postgres", args, major, Map.of(), STEP_TIMEOUT, "restored-server", runId,
                new ToolInvocation.Container(java.util.Optional.of(volume), MOUNT, java.util.Optional.of("postgres"),
                        options.scratch() ? java.util.Optional.of("none") : java.util.Optional.of("bridge")));
        String id = docker.engine().startServer(server, options.publishPort(), options.keep());
        return new SidecarServer(docker, id, volume, major, runId, options.psql(), options.keep(), options.publishPort());
    }

    /** The restore_command of a server on a restored volume: the staged WAL, copied (a missing file ends recovery's search). */
    public static String restoreCommand() {
        return "cp " + WAL + "/%f %p";
    }

    /** libpq settings for psql in a sidecar on the volume of a scratch server (socket in the volume, trust). */
    public static Map<String, Secret> scratchPsql() {
        return Map.of("PGHOST", new Secret(MOUNT), "PGPORT", new Secret("5432"), "PGUSER", new Secret("postgres"));
    }

    /** Runs one sidecar step without input. */
    private void run(ToolInvocation invocation, String what) {
        check(invocation, what, docker.run(invocation, null, in -> in.transferTo(OutputStream.nullOutputStream())));
    }

    /** Runs one sidecar step, its stdin fed by {@code producer}; the producer's error (corrupt object) outranks tar's. */
    private void feed(ToolInvocation invocation, BlockingPipe.Producer producer, String what) {
        BlockingPipe pipe = new BlockingPipe();
        CompletableFuture<Void> feed = pipe.feedFrom(producer, 1 << 20, "restore-feed");
        // A failed producer ends the sidecar's input (endsOnError), and tar stops short; an engine reached over TLS
        // gets no half-close, though, and its sidecar would wait for more input forever: kill it, until its run
        // returns (the feed may fail before the sidecar even exists).
        java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
        feed.whenComplete((ok, failed) -> {
            if (failed != null) Thread.ofVirtual().start(() -> {
                while (!ended.get()) {
                    try {
                        Thread.sleep(500);
                    } catch (InterruptedException e) {
                        return;
                    }
                    if (!ended.get()) docker.kill(invocation);
                }
            });
        });
        ToolResult result;
        try {
            result = docker.run(invocation, endsOnError(pipe), in -> in.transferTo(OutputStream.nullOutputStream()));
        } catch (RuntimeException e) {
            ended.set(true);
            pipe.close();
            throw producerError(feed).orElse(e instanceof PgwardenException p ? p : new PgwardenException(ErrorCode.TOOL, "cannot " + what + ": " + e.getMessage(), e));
        }
        ended.set(true);
        PgwardenException fed = (result.succeeded() ? feedError(feed) : producerError(feed)).orElse(null);
        if (fed != null) throw fed;
        check(invocation, what, result);
    }

    /**
     * The producer's own error (a corrupt object, the repository gone), outranking the sidecar's; not when it failed
     * only because the sidecar stopped reading (killed, failed), whose input is then closed: the sidecar's error
     * says what happened.
     */
    private static java.util.Optional<PgwardenException> producerError(CompletableFuture<Void> feed) {
        return feedError(feed).filter(e -> !io.pgwarden.error.Errors.causedBy(e, BlockingPipe.ReaderGone.class));
    }

    private static void check(ToolInvocation invocation, String what, ToolResult result) {
        if (!result.succeeded()) throw new PgwardenException(ErrorCode.TOOL, "cannot " + what + ": " + result.failureSummary(invocation.tool()));
    }

    /**
     * The sidecar sees a failed feed as the end of its input (tar then fails or stops short), so that the attach
     * always ends; the feed's own error is what gets reported.
     */
    private static java.io.InputStream endsOnError(java.io.InputStream in) {
        return new java.io.FilterInputStream(in) {
            @Override
            public int read(byte[] b, int off, int len) {
                int n;
                try {
                    n = super.read(b, off, len);
                } catch (IOException fedError) {
                    n = -1;
                }
                return n;
            }

            @Override
            public int read() {
                int c;
                try {
                    c = super.read();
                } catch (IOException fedError) {
                    c = -1;
                }
                return c;
            }
        };
    }

    /**
     * A sidecar on an engine reached over TLS never sees EOF (no half-close on TLS). GNU tar reads whole 10 KiB
     * records from a pipe and stops at the end-of-archive blocks without waiting for EOF, once their record is full:
     * pad with zeros (which tar reads as more end-of-archive blocks) to the record's end.
     */
    private static void padToRecord(OutputStream out, long written) throws IOException {
        int record = 10240;
        long padding = (record - written % record) % record;
        out.write(new byte[(int) padding]);
    }

    private static java.util.Optional<PgwardenException> feedError(CompletableFuture<Void> feed) {
        try {
            feed.join();
            return java.util.Optional.empty();
        } catch (CompletionException e) {
            Throwable cause = e.getCause();
            return java.util.Optional.of(cause instanceof PgwardenException p ? p
                    : new PgwardenException(ErrorCode.INTERNAL, "feeding the restore sidecar failed: " + cause.getMessage(), cause));
        }
    }

    /**
     * A tar of what recovery needs beside the data: the .history file and the plan's WAL segments of each timeline on its path,
     * recovery.signal and (a scratch copy) a pg_hba.conf that trusts the socket. Streams one WAL file at a time.
     */
    private void stage(RestorePlan plan, boolean scratch, OutputStream out) throws IOException {
        long[] written = {0};
        OutputStream counted = new java.io.FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
                written[0] += len;
            }
        };
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(counted)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            addText(tar, "data/recovery.signal", "");
            if (scratch) addText(tar, "pg_hba.conf", "local all all trust\n");
            String first = plan.firstWal().substring(8);
            String last = plan.lastWal().substring(8);
            // Each timeline of the plan's path: its history file, then its segments from the backup's first to the
            // last one recovery may need (listed from there: a busy cluster's timeline holds a million segments).
            for (int tli : plan.timelines()) {
                String prefix = RepositoryLayout.walTimelinePrefix(plan.cluster(), tli);
                try (Stream<ObjectInfo> objects = storage.list(prefix, prefix + "%08X".formatted(tli) + first)) {
                    if (tli > 1) addWal(tar, plan.cluster(), WalFileName.history(tli));
                    for (var it = objects.iterator(); it.hasNext(); ) {
                        WalFileName name = RepositoryLayout.walFileOf(it.next().key()).orElse(null);
                        if (name == null || name.kind() != WalFileName.Kind.SEGMENT) continue;
                        if (name.name().substring(8).compareTo(last) > 0) break;
                        addWal(tar, plan.cluster(), name);
                    }
                }
            }
            tar.finish();
            padToRecord(out, written[0]);
        }
    }

    private void addWal(TarArchiveOutputStream tar, String cluster, WalFileName name) throws IOException {
        try (VerifiedObject object = wal.open(cluster, name).orElseThrow(() -> PgwardenException.integrity(
                "WAL file '" + name.name() + "' of cluster '" + cluster + "' vanished from the repository during the restore"))) {
            TarArchiveEntry entry = new TarArchiveEntry("wal/" + name.name());
            entry.setSize(object.rawSize());
            entry.setMode(0600);
            tar.putArchiveEntry(entry);
            object.writeTo(tar);
            tar.closeArchiveEntry();
        }
    }

    private static void addText(TarArchiveOutputStream tar, String path, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry entry = new TarArchiveEntry(path);
        entry.setSize(bytes.length);
        entry.setMode(0600);
        tar.putArchiveEntry(entry);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }

    private static ToolInvocation tool(String tool, List<String> args, int major, String runId, String step, String volume, String user) {
        return new ToolInvocation(tool, args, major, Map.of(), STEP_TIMEOUT, "restore-" + step, runId,
                ToolInvocation.Container.onVolume(volume, MOUNT, user));
    }
}
