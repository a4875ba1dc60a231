package io.pgwarden.jobs;

import io.pgwarden.backup.BaseBackupService;
import io.pgwarden.backup.DumpService;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.RunIds;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.restore.TestRestoreService;
import io.pgwarden.retention.RetentionService;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.verify.RepositoryVerifier;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way any job runs, whoever asks (a schedule, the admin API, the command line): one slot per cluster and
 * kind, so at most one run of a kind per cluster at a time; each outcome counted; recent runs kept for status
 * queries. Never throws out of a run: failures are logged, counted and recorded in the run's state.
 */
public final class JobEngine {
    private static final Logger log = LoggerFactory.getLogger(JobEngine.class);

    private final Map<JobKind, Job> jobs;
    private final RepositoryGauges gauges;
    private final Metrics metrics;
    private final Clock clock;
    private final RunBook book;
    private final InterruptedRuns interrupted;

    private JobEngine(Map<JobKind, Job> jobs, RepositoryGauges gauges, Metrics metrics, Clock clock, RunBook book,
                      InterruptedRuns interrupted) {
        this.jobs = jobs;
        this.gauges = gauges;
        this.metrics = metrics;
        this.clock = clock;
        this.book = book;
        this.interrupted = interrupted;
    }

    /**
     * The engine over one repository with its runs in this process only, as the standalone CLI uses it.
     * @param runners the tool runner of each cluster
     */
    public static JobEngine create(PgwardenConfig config, StorageDriver storage, WalRepository wal, ClusterInfoStore clusterInfo,
                                   Function<String, ToolRunner> runners, Metrics metrics, Clock clock) {
        return create(config, storage, wal, clusterInfo, runners, metrics, clock, new LocalRunBook());
    }

    /** As above, the runs claimed and recorded in {@code book} (shared by several daemons, for one). */
    public static JobEngine create(PgwardenConfig config, StorageDriver storage, WalRepository wal, ClusterInfoStore clusterInfo,
                                   Function<String, ToolRunner> runners, Metrics metrics, Clock clock, RunBook book) {
        RepositoryGauges gauges = new RepositoryGauges(storage, metrics);
        Map<JobKind, Job> jobs = new EnumMap<>(JobKind.class);
        BaseBackupService baseBackups = new BaseBackupService(config, storage, wal, clusterInfo, clock);
        jobs.put(JobKind.BASE, new BaseBackupJob(baseBackups, false, runners, metrics, gauges));
        jobs.put(JobKind.INCREMENTAL, new BaseBackupJob(baseBackups, true, runners, metrics, gauges));
        jobs.put(JobKind.DUMP, new DumpJob(new DumpService(config, storage, wal, clock), runners, storage, metrics, clock));
        jobs.put(JobKind.RESTORE_TEST, new TestRestoreJob(new TestRestoreService(config, storage, clock), runners, metrics));
        jobs.put(JobKind.RETENTION, new RetentionJob(new RetentionService(config, storage, clock), metrics, gauges));
        jobs.put(JobKind.VERIFY, new VerifyJob(new RepositoryVerifier(storage, wal), metrics));
        JobEngine engine = new JobEngine(jobs, gauges, metrics, clock, book, new InterruptedRuns(storage, runners, clock));
        book.watchForInterrupted(engine::interrupted);
        return engine;
    }

    /** Starts a run in the background and returns at once with its state; BUSY when one of its kind is running. */
    public JobRun start(JobRequest request) {
        JobRun run = claim(request);
        Thread.ofVirtual().name("job-" + run.id()).start(() -> execute(request, run));
        return run;
    }

    /** Runs now in this thread and returns the finished state; BUSY when one of its kind is running. */
    public JobRun run(JobRequest request) {
        return execute(request, claim(request));
    }

    public Optional<JobRun> status(String cluster, String id) {
        return book.find(cluster, id);
    }

    /** The gauges read from the repository (the daemon refreshes them at start). */
    public RepositoryGauges gauges() {
        return gauges;
    }

    private JobRun claim(JobRequest request) {
        Instant now = clock.instant();
        JobRun run = new JobRun(RunIds.next(now), request.cluster(), request.kind(), request.database().orElse(null), request.trigger(),
                JobState.RUNNING, now, null, null, null, null);
        try {
            run = book.claim(slot(request), run);
        } catch (PgwardenException e) {
            metrics.backupFailed(request.cluster(), request.kind().label(), e.code().reason());
            throw e;
        }
        log.info("cluster '{}': {} {} started ({})", request.cluster(), request.kind().noun(), run.id(), request.trigger());
        return run;
    }

    private static String slot(JobRequest request) {
        // A full and an incremental base backup of one cluster never run at once: each would be the other's parent.
        JobKind kind = request.kind() == JobKind.INCREMENTAL ? JobKind.BASE : request.kind();
        return request.cluster() + "/" + kind.label();
    }

    private JobRun execute(JobRequest request, JobRun run) {
        Job job = jobs.get(request.kind());
        JobRun done = null;
        try {
            Optional<String> problem = job.run(request, run, book::activeRunIds);
            done = finish(run, problem.isEmpty() ? JobState.SUCCEEDED : JobState.FAILED, problem.orElse(null),
                    problem.isEmpty() ? null : ErrorCode.TOOL, null);
        } catch (RuntimeException e) {
            ErrorCode code = ErrorCode.of(e);
            String object = null;
            if (e instanceof PgwardenException p) object = p.inCluster(request.cluster()).inRun(run.id()).context().objectKey();
            job.failed(request, run, e, code);
            if (code == ErrorCode.INTERNAL) log.error("cluster '{}': {} {} failed", request.cluster(), request.kind().noun(), run.id(), e);
            done = finish(run, JobState.FAILED, e.getMessage(), code, object);
        } finally {
            // An Error (out of memory) still frees the slot; the run is recorded as failed.
            book.finish(slot(request), done != null ? done : run.finish(JobState.FAILED, clock.instant(), "ended by an error", "INTERNAL", null));
        }
        gauges.updateRepositorySize(request.cluster());
        return done;
    }

    private JobRun finish(JobRun run, JobState outcome, String error, ErrorCode code, String errorObject) {
        JobRun done = run.finish(outcome, clock.instant(), error, code == null ? null : code.name(), errorObject);
        log.info("cluster '{}': {} {} {}", run.cluster(), run.kind().noun(), run.id(), outcome.label());
        return done;
    }

    /** A run another daemon started and did not end (it died): counted and recorded as failed, its sidecars removed. */
    private void interrupted(JobRun run) {
        Job job = jobs.get(run.kind());
        job.failed(new JobRequest(run.cluster(), run.kind(), Optional.ofNullable(run.database()), run.trigger()), run,
                new PgwardenException(ErrorCode.INTERRUPTED, run.error()), ErrorCode.INTERRUPTED);
        interrupted.cleanUp(run);
    }

    /** Waits until no run is in progress (after their tools were stopped), so their failure records get written. */
    public boolean awaitIdle(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!book.ownRunning().isEmpty()) {
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
    public List<JobRun> running() {
        return book.ownRunning();
    }
}
