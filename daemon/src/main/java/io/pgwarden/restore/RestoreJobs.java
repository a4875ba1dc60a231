package io.pgwarden.restore;

import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.RunIds;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores asked for through the admin API: planned at once (a refusal is the answer to the request), then carried
 * out in the background with progress that a status query reads. One restore per cluster at a time.
 */
public final class RestoreJobs {
    private static final Logger log = LoggerFactory.getLogger(RestoreJobs.class);
    private static final int KEPT = 100;

    /** @param restoreCommand standalone or daemon (default: curl to this daemon) */
    public record Request(RestoreTarget target, Path targetDir, Optional<String> backup, OptionalInt timeline, String action) {
    }

    /** @param state running, succeeded or failed */
    public record Status(String id, String cluster, String state, Instant startedAt, Instant finishedAt, String backupId, int timeline,
                        String firstWal, String lastWal, String targetDir, long bytesDone, long bytesTotal, String error, String errorCode,
                        String next) {
    }

    private final PgwardenConfig config;
    private final PitrRestore restore;
    private final Clock clock;
    private final java.util.function.Function<String, ToolRunner> runners;
    private final Map<String, String> runningByCluster = new ConcurrentHashMap<>();
    private final Map<String, Status> finished = new LinkedHashMap<>();
    private final Map<String, Running> running = new ConcurrentHashMap<>();

    private record Running(Status base, Progress progress) {
    }

    /** @param runners each cluster's runner (the daemon's), for pg_combinebackup when a restore combines a chain */
    public RestoreJobs(PgwardenConfig config, StorageDriver storage, Clock clock, java.util.function.Function<String, ToolRunner> runners) {
        this.config = config;
        this.restore = new PitrRestore(config, storage, new WalRepository(storage, config.repository()));
        this.clock = clock;
        this.runners = runners;
    }

    public Status start(String cluster, Request request) {
        RestorePlan plan = restore.plan(cluster, request.target(), request.backup(), request.timeline());
        String id = RunIds.next(clock);
        String other = runningByCluster.putIfAbsent(cluster, id);
        if (other != null) throw new PgwardenException(ErrorCode.BUSY, "a restore of cluster '" + cluster + "' is already running (" + other + ")");
        Progress progress = Progress.silent(plan.rawBytes());
        Path dir = request.targetDir().toAbsolutePath().normalize();
        Status status = new Status(id, cluster, "running", clock.instant(), null, plan.backup().backupId(), plan.timeline(), plan.firstWal(),
                plan.lastWal(), dir.toString(), 0, plan.rawBytes(), null, null, null);
        running.put(id, new Running(status, progress));
        Thread.ofVirtual().name("restore-" + id).start(() -> execute(cluster, plan, request, dir, status, progress));
        log.info("cluster '{}': restore {} of base backup {} into '{}' started", cluster, id, plan.backup().backupId(), dir);
        return status;
    }

    private void execute(String cluster, RestorePlan plan, Request request, Path dir, Status status, Progress progress) {
        String error = null;
        String code = null;
        try {
            String restoreCommand = RestoreCommands.viaDaemon(config, cluster, RestoreCommands.headerFileBeside(dir));
            DirectorySite site = restore.directory(cluster, dir, restoreCommand, Optional.of(runners.apply(cluster)), status.id().toLowerCase());
            site.fill(plan, new RestoreSite.Recovery(request.target(), request.action(), request.timeline(), "recovery settings added by"
                    + " pgwarden restore " + status.id() + " (admin API): base backup " + plan.backup().backupId() + ", target "
                    + request.target().describe()), progress);
        } catch (RuntimeException e) {
            error = e.getMessage();
            code = ErrorCode.of(e).name();
            log.error("cluster '{}': restore {} failed: {}", cluster, status.id(), error);
        }
        Path bin = config.cluster(cluster).runner().binDirFor(plan.backup().pgVersionNum() / 10000);
        Status done = new Status(status.id(), cluster, error == null ? "succeeded" : "failed", status.startedAt(), clock.instant(),
                status.backupId(), status.timeline(), status.firstWal(), status.lastWal(), status.targetDir(), progress.bytesDone(),
                status.bytesTotal(), error, code, error == null ? "chown -R postgres:postgres " + dir + " " + dir + ".pgwarden-auth-header; then as postgres: "
                + bin.resolve("pg_ctl") + " -D " + dir + " -l " + dir + "/restore.log start" : null);
        synchronized (finished) {
            finished.put(done.id(), done);
            if (finished.size() > KEPT) finished.remove(finished.keySet().iterator().next());
        }
        running.remove(status.id());
        runningByCluster.remove(cluster, status.id());
    }

    public Optional<Status> status(String cluster, String id) {
        Running r = running.get(id);
        if (r != null && r.base().cluster().equals(cluster)) {
            Status s = r.base();
            return Optional.of(new Status(s.id(), s.cluster(), s.state(), s.startedAt(), null, s.backupId(), s.timeline(), s.firstWal(),
                    s.lastWal(), s.targetDir(), r.progress().bytesDone(), s.bytesTotal(), null, null, null));
        }
        synchronized (finished) {
            return Optional.ofNullable(finished.get(id)).filter(s -> s.cluster().equals(cluster));
        }
    }
}
