package io.pgwarden.backup;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.Catalog;
import io.pgwarden.retention.RetentionExecutor;
import io.pgwarden.retention.RetentionService;
import io.pgwarden.repository.RestoreTestRecord;
import io.pgwarden.restore.RestoreTarget;
import io.pgwarden.restore.TestRestoreService;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.repository.FailureRecord;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.RepositorySize;
import io.pgwarden.repository.RunIds;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.verify.RepositoryVerifier;
import io.pgwarden.storage.StorageDriver;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way backups run, whoever asks (a schedule, the admin API, the command line): at most one run of a kind
 * per cluster at a time, each outcome counted in metrics, recent runs kept for status queries. Never throws out of
 * a scheduled run: failures are logged, counted and recorded.
 */
public final class BackupJobs {
    private static final Logger log = LoggerFactory.getLogger(BackupJobs.class);
    private static final int KEPT_RUNS = 200;

    public enum Kind {
        BASE, DUMP, RESTORE_TEST, RETENTION, VERIFY;

        public String label() {
            return this == RESTORE_TEST ? "restore-test" : name().toLowerCase();
        }

        /** The kinds a backup request may name (test restores have their own endpoint). */
        public static Kind parse(String text) {
            return switch (text) {
                case "base" -> BASE;
                case "dump" -> DUMP;
                default -> throw PgwardenException.badRequest("'" + text + "' is not a backup kind (base or dump)");
            };
        }
    }

    /**
     * @param trigger       who asked: schedule, misfire, api, cli
     * @param restoreTarget where a test restore recovers to (other kinds ignore it)
     */
    public record Request(String cluster, Kind kind, Optional<String> database, String trigger, RestoreTarget restoreTarget) {
        public Request(String cluster, Kind kind, Optional<String> database, String trigger) {
            this(cluster, kind, database, trigger, new RestoreTarget.Latest());
        }
    }

    /** @param state running, succeeded or failed; error and errorCode (an {@link ErrorCode} name) are set when failed */
    public record RunState(String id, String cluster, String kind, String database, String trigger, String state,
                           Instant startedAt, Instant finishedAt, String error, String errorCode) {
        @com.fasterxml.jackson.annotation.JsonIgnore
        public boolean finished() {
            return !state.equals("running");
        }
    }

    /** What each kind of run calls. */
    public record Services(BaseBackupService base, DumpService dumps, TestRestoreService testRestores, RetentionService retention,
                           RepositoryVerifier verifier) {
        /** The services over one repository, as the daemon and the standalone CLI both use them. */
        public static Services of(PgwardenConfig config, StorageDriver storage, WalRepository wal, ClusterInfoStore clusterInfo, Clock clock) {
            return new Services(new BaseBackupService(config, storage, wal, clusterInfo, clock), new DumpService(config, storage, wal, clock),
                    new TestRestoreService(config, storage, clock), new RetentionService(config, storage, clock),
                    new RepositoryVerifier(storage, wal));
        }
    }

    private final Services services;
    private final StorageDriver storage;
    private final Function<String, ToolRunner> runners;
    private final Metrics metrics;
    private final Clock clock;
    private final Map<String, RunState> running = new ConcurrentHashMap<>();
    private final Map<String, RunState> recent = new LinkedHashMap<>();

    /** @param runners the tool runner of each cluster */
    public BackupJobs(Services services, StorageDriver storage, Function<String, ToolRunner> runners, Metrics metrics, Clock clock) {
        this.services = services;
        this.storage = storage;
        this.runners = runners;
        this.metrics = metrics;
        this.clock = clock;
    }

    /** Starts a run in the background and returns at once with its id; BUSY when one of its kind is running. */
    public RunState start(Request request) {
        RunState state = claim(request);
        Thread.ofVirtual().name("backup-" + state.id()).start(() -> execute(request, state));
        return state;
    }

    /** Runs now in this thread and returns the finished state; BUSY when one of its kind is running. */
    public RunState run(Request request) {
        return execute(request, claim(request));
    }

    public Optional<RunState> status(String cluster, String id) {
        synchronized (recent) {
            return Optional.ofNullable(recent.get(id)).filter(s -> s.cluster().equals(cluster));
        }
    }

    private RunState claim(Request request) {
        Instant now = clock.instant();
        RunState state = new RunState(RunIds.next(now), request.cluster(), request.kind().label(), request.database().orElse(null),
                request.trigger(), "running", now, null, null, null);
        RunState existing = running.putIfAbsent(slot(request), state);
        if (existing != null) {
            metrics.backupFailed(request.cluster(), request.kind().label(), ErrorCode.BUSY.reason());
            throw new PgwardenException(ErrorCode.BUSY, "a " + request.kind().label() + " backup of cluster '" + request.cluster()
                    + "' is already running (run " + existing.id() + ", started " + existing.startedAt() + " by " + existing.trigger()
                    + "); nothing was started");
        }
        remember(state);
        log.info("cluster '{}': {} backup {} started ({})", request.cluster(), request.kind().label(), state.id(), request.trigger());
        return state;
    }

    /** One run of a kind per cluster: the key of its slot. */
    private static String slot(Request request) {
        return request.cluster() + "/" + request.kind().label();
    }

    private RunState execute(Request request, RunState state) {
        RunState done;
        try {
            String error = switch (request.kind()) {
                case BASE -> runBase(request, state);
                case DUMP -> runDumps(request, state);
                case RESTORE_TEST -> runTestRestore(request, state);
                case RETENTION -> runRetention(request);
                case VERIFY -> runVerify(request);
            };
            done = finish(state, error == null ? "succeeded" : "failed", error, error == null ? null : ErrorCode.TOOL);
        } catch (RuntimeException e) {
            ErrorCode code = ErrorCode.of(e);
            if (request.kind() == Kind.RESTORE_TEST) metrics.restoreTestFailed(request.cluster());
            else if (request.kind() == Kind.RETENTION) metrics.retentionFailed(request.cluster());
            else if (request.kind() == Kind.VERIFY) metrics.verifyFailed(request.cluster());
            else metrics.backupFailed(request.cluster(), request.kind().label(), code.reason());
            if (request.kind() == Kind.DUMP) recordDumpFailure(state, e, code);
            if (code == ErrorCode.INTERNAL) log.error("cluster '{}': {} backup {} failed", request.cluster(), request.kind().label(), state.id(), e);
            done = finish(state, "failed", e.getMessage(), code);
        } finally {
            running.remove(slot(request));
        }
        updateRepositorySize(request.cluster());
        return done;
    }

    private String runBase(Request request, RunState state) {
        BaseBackupManifest m = services.base().backup(request.cluster(), runners.apply(request.cluster()), state.id());
        metrics.backupSucceeded(request.cluster(), "base", Metrics.NO_DATABASE, Duration.between(m.startTime(), m.stopTime()),
                m.rawBytes(), m.storedBytes());
        updateRecoveryWindow(request.cluster());
        return null;
    }

    private String runRetention(Request request) {
        java.util.Set<String> active = new java.util.HashSet<>();
        running.values().forEach(r -> active.add(r.id()));
        RetentionExecutor.Result done = services.retention().prune(request.cluster(), active);
        metrics.retentionDeleted(request.cluster(), done.objects(), done.bytes());
        updateRecoveryWindow(request.cluster());
        return null;
    }

    /** @return null when every object read back intact and the WAL is continuous, else the first problem and how many */
    private String runVerify(Request request) {
        List<RepositoryVerifier.Finding> problems = services.verifier().verify(request.cluster(), Optional.empty(), f -> {
            if (!f.ok()) log.error("cluster '{}': verify: {}: {}", request.cluster(), f.what(), f.detail());
        });
        if (!problems.isEmpty()) {
            metrics.verifyFailed(request.cluster());
            return problems.size() + " problem(s); the first: " + problems.get(0).what() + ": " + problems.get(0).detail();
        }
        metrics.verifySucceeded(request.cluster());
        return null;
    }

    /** @return null when the restored copy started and passed its checks, else why not */
    private String runTestRestore(Request request, RunState state) {
        RestoreTestRecord record = services.testRestores().run(request.cluster(), state.id(), runners.apply(request.cluster()), request.restoreTarget());
        if (record.succeeded()) metrics.restoreTestSucceeded(request.cluster(), Duration.ofMillis(Math.round(record.totalSeconds() * 1000)));
        else metrics.restoreTestFailed(request.cluster());
        return record.succeeded() ? null : record.error();
    }

    /** Recomputes where point-in-time recovery reaches back to (after a backup; retention will change it too). */
    public void updateRecoveryWindow(String cluster) {
        try {
            List<BaseBackupManifest> backups = new Catalog(storage).baseBackups(cluster);
            metrics.earliestRestorable(cluster, backups.isEmpty() ? null : backups.get(0).stopTime());
        } catch (RuntimeException e) {
            log.warn("cluster '{}': cannot read the backups to update recovery_window_seconds: {}", cluster, e.getMessage());
        }
    }

    /**
     * Re-measures the stored bytes by kind (after every run: any of them adds or removes objects); at start-up this
     * also tells when the newest WAL file was archived, which the metric would otherwise forget across a restart.
     */
    public void updateRepositorySize(String cluster) {
        try {
            RepositorySize.Measurement m = RepositorySize.measure(storage, cluster);
            metrics.repositorySize(cluster, m.bytesByKind());
            m.newestWal().ifPresent(at -> metrics.walArchivedAtLeast(cluster, at));
        } catch (RuntimeException e) {
            log.warn("cluster '{}': cannot list the repository to update repository_size_bytes: {}", cluster, e.getMessage());
        }
    }

    /** @return null when every dump succeeded, else the run's summary */
    private String runDumps(Request request, RunState state) {
        DumpService.DumpRun run = services.dumps().dump(request.cluster(), runners.apply(request.cluster()), request.database(), state.id());
        for (DumpManifest d : run.dumps()) {
            metrics.backupSucceeded(request.cluster(), d.isGlobals() ? "globals" : "dump", d.isGlobals() ? Metrics.NO_DATABASE : d.database(),
                    Duration.between(d.startTime(), d.stopTime()), d.rawBytes(), d.storedBytes());
        }
        for (FailureRecord f : run.failures()) metrics.backupFailed(request.cluster(), f.database() == null ? "globals" : "dump", f.reason());
        return run.succeeded() ? null : run.summary();
    }

    /** A dump run that failed before any database (server unreachable, tools too old) still leaves a record. */
    private void recordDumpFailure(RunState state, RuntimeException e, ErrorCode code) {
        log.error("cluster '{}': dump run {} failed: {}", state.cluster(), state.id(), e.getMessage());
        io.pgwarden.repository.FailureRecords.write(storage, RepositoryLayout.failureRecord(state.cluster(), "dump", state.id()),
                new FailureRecord("dump", state.id(), state.cluster(), state.database(), state.startedAt(), clock.instant(), code.reason(),
                        e.getMessage()), "cluster '" + state.cluster() + "': dump run " + state.id());
    }

    private RunState finish(RunState state, String outcome, String error, ErrorCode code) {
        RunState done = new RunState(state.id(), state.cluster(), state.kind(), state.database(), state.trigger(), outcome,
                state.startedAt(), clock.instant(), error, code == null ? null : code.name());
        remember(done);
        log.info("cluster '{}': {} backup {} {}", state.cluster(), state.kind(), state.id(), outcome);
        return done;
    }

    private void remember(RunState state) {
        synchronized (recent) {
            recent.put(state.id(), state);
            if (recent.size() > KEPT_RUNS) recent.remove(recent.keySet().iterator().next());
        }
    }

    /** Waits until no run is in progress (after their tools were stopped), so their failure records get written. */
    public boolean awaitIdle(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!running.isEmpty()) {
            if (System.nanoTime() > deadline) return false;
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** The runs in progress now (for shutdown logs and tests). */
    public List<RunState> running() {
        return List.copyOf(running.values());
    }
}
