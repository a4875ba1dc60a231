package io.pgwarden.jobs;

import io.pgwarden.config.SchedulerConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.RunIds;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.postgresql.util.PSQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs of every daemon sharing a scheduler store, in its table {@code pgwarden_runs}: a slot is claimed by inserting
 * a running row (a unique index allows one per slot across all daemons), its end is an update, any daemon answers a
 * status query from it. Every few seconds each daemon looks for running rows of daemons that are gone (their
 * {@link PresenceLock} is free) and records them as failed; row locks make exactly one daemon do so. This daemon's
 * own runs are also kept in a {@link LocalRunBook}, so shutdown waits for them without the database.
 */
public final class SharedRunBook implements RunBook {
    private static final Logger log = LoggerFactory.getLogger(SharedRunBook.class);
    /** How long a start waits for the session of a killed predecessor of the same name to end. */
    private static final Duration PREDECESSOR_WAIT = Duration.ofSeconds(15);
    private static final Duration WATCH_EVERY = Duration.ofSeconds(3);
    /**
     * How long a daemon's presence lock must be seen free before its runs count as interrupted: when the store
     * restarts, every session ends at once, and each daemon takes its lock again at its next watch.
     */
    private static final Duration GONE_FOR = Duration.ofSeconds(10);
    /** Finished runs are kept this long for status queries. */
    private static final Duration KEEP_FINISHED = Duration.ofDays(30);
    private static final String COLUMNS = "id, cluster, kind, database, trigger, state, started_at, finished_at, error, error_code, error_object, instance";

    private final DataSource store;
    private final SchedulerConfig.JdbcStore config;
    private final String instance;
    private final Clock clock;
    private final PresenceLock presence;
    private final LocalRunBook own = new LocalRunBook();
    /** Ends that could not be written (the store was away): written at the next watch. */
    private final ConcurrentLinkedQueue<JobRun> unwritten = new ConcurrentLinkedQueue<>();
    private final ScheduledExecutorService watcher = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("run-watcher").daemon().factory());
    private long watches;
    /** When each daemon's presence lock was first seen free (the watcher thread only). */
    private final Map<String, Instant> seenGone = new HashMap<>();

    private SharedRunBook(DataSource store, SchedulerConfig.JdbcStore config, String instance, Clock clock, PresenceLock presence) {
        this.store = store;
        this.config = config;
        this.instance = instance;
        this.clock = clock;
        this.presence = presence;
    }

    /** Creates the table if missing, and takes this daemon's presence lock. */
    public static SharedRunBook open(DataSource store, SchedulerConfig.JdbcStore config, String instance, Clock clock) {
        createTable(store, config);
        return new SharedRunBook(store, config, instance, clock, PresenceLock.take(store, config, instance, PREDECESSOR_WAIT));
    }

    private static void createTable(DataSource store, SchedulerConfig.JdbcStore config) {
        try (Connection c = store.getConnection(); Statement s = c.createStatement()) {
            s.execute("""
                    CREATE TABLE IF NOT EXISTS pgwarden_runs (
                      id text PRIMARY KEY, cluster text NOT NULL, kind text NOT NULL, slot text NOT NULL, database text,
                      trigger text NOT NULL, state text NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz,
                      error text, error_code text, error_object text, instance text NOT NULL);
                    CREATE UNIQUE INDEX IF NOT EXISTS pgwarden_runs_one_per_slot ON pgwarden_runs (slot) WHERE state = 'running';
                    CREATE INDEX IF NOT EXISTS pgwarden_runs_running ON pgwarden_runs (instance) WHERE state = 'running'""");
        } catch (SQLException e) {
            throw StoreFailure.of(config, "cannot create table pgwarden_runs", e);
        }
    }

    @Override
    public JobRun claim(String slot, JobRun run) {
        own.claim(slot, run);
        for (int attempt = 0; ; attempt++) {
            try (Connection c = store.getConnection(); PreparedStatement s = c.prepareStatement("INSERT INTO pgwarden_runs (" + COLUMNS
                    + ", slot) VALUES (?, ?, ?, ?, ?, 'running', ?, NULL, NULL, NULL, NULL, ?, ?)")) {
                s.setString(1, run.id());
                s.setString(2, run.cluster());
                s.setString(3, run.kind().name());
                s.setString(4, run.database());
                s.setString(5, run.trigger());
                s.setTimestamp(6, Timestamp.from(run.startedAt()));
                s.setString(7, instance);
                s.setString(8, slot);
                s.executeUpdate();
                return run;
            } catch (SQLException e) {
                own.release(slot, run);
                if (!"23505".equals(e.getSQLState())) throw StoreFailure.of(config, "cannot record the start of run " + run.id() + "; nothing was started", e);
                if (!isIdTaken(e) || attempt == 3) throw busy(slot, run);
                // Another daemon started a run with the same id in the same second: take another.
                run = new JobRun(RunIds.next(run.startedAt()), run.cluster(), run.kind(), run.database(), run.trigger(), run.state(),
                        run.startedAt(), null, null, null, null);
                own.claim(slot, run);
            }
        }
    }

    private static boolean isIdTaken(SQLException e) {
        return e instanceof PSQLException p && p.getServerErrorMessage() != null
                && "pgwarden_runs_pkey".equals(p.getServerErrorMessage().getConstraint());
    }

    private PgwardenException busy(String slot, JobRun refused) {
        try (Connection c = store.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT " + COLUMNS + " FROM pgwarden_runs WHERE slot = ? AND state = 'running'")) {
            s.setString(1, slot);
            try (ResultSet r = s.executeQuery()) {
                if (r.next()) return LocalRunBook.busy(refused, row(r), " on daemon '" + r.getString("instance") + "'");
            }
        } catch (SQLException e) {
            log.warn("cannot read which run holds slot '{}': {}", slot, e.getMessage());
        }
        return new PgwardenException(ErrorCode.BUSY, "a " + refused.kind().noun() + " of cluster '" + refused.cluster()
                + "' is already running on another daemon; nothing was started");
    }

    @Override
    public void finish(String slot, JobRun done) {
        own.finish(slot, done);
        try {
            writeEnd(done);
        } catch (SQLException e) {
            log.warn("cannot record the end of run {} in the scheduler store ({}); retrying in the background", done.id(), e.getMessage());
            unwritten.add(done);
        }
    }

    private void writeEnd(JobRun done) throws SQLException {
        try (Connection c = store.getConnection(); PreparedStatement s = c.prepareStatement(
                "UPDATE pgwarden_runs SET state = ?, finished_at = ?, error = ?, error_code = ?, error_object = ? WHERE id = ?")) {
            s.setString(1, done.state().label());
            s.setTimestamp(2, Timestamp.from(done.finishedAt()));
            s.setString(3, done.error());
            s.setString(4, done.errorCode());
            s.setString(5, done.errorObject());
            s.setString(6, done.id());
            s.executeUpdate();
        }
    }

    @Override
    public Optional<JobRun> find(String cluster, String id) {
        Optional<JobRun> mine = own.find(cluster, id);
        if (mine.isPresent()) return mine;
        try (Connection c = store.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT " + COLUMNS + " FROM pgwarden_runs WHERE id = ? AND cluster = ?")) {
            s.setString(1, id);
            s.setString(2, cluster);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? Optional.of(row(r)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw StoreFailure.of(config, "cannot read run " + id, e);
        }
    }

    @Override
    public Set<String> activeRunIds() {
        Set<String> ids = new HashSet<>(own.activeRunIds());
        try (Connection c = store.getConnection(); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT id FROM pgwarden_runs WHERE state = 'running'")) {
            while (r.next()) ids.add(r.getString(1));
            return ids;
        } catch (SQLException e) {
            throw StoreFailure.of(config, "cannot read the runs in progress", e);
        }
    }

    @Override
    public List<JobRun> ownRunning() {
        return own.ownRunning();
    }

    @Override
    public void watchForInterrupted(Consumer<JobRun> interrupted) {
        // Runs recorded as running by this instance before it started belong to a predecessor that died.
        handOver(interrupted, reap(true));
        watcher.scheduleWithFixedDelay(() -> watch(interrupted), WATCH_EVERY.toMillis(), WATCH_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void watch(Consumer<JobRun> interrupted) {
        try {
            presence.keep();
            for (JobRun done; (done = unwritten.peek()) != null; unwritten.poll()) writeEnd(done);
            handOver(interrupted, reap(false));
            if (watches++ % 1200 == 0) forgetOldRuns();
        } catch (SQLException | RuntimeException e) {
            log.warn("scheduler store: cannot look for interrupted runs: {}", e.getMessage());
        }
    }

    private static void handOver(Consumer<JobRun> interrupted, List<JobRun> runs) {
        for (JobRun run : runs) {
            try {
                interrupted.accept(run);
            } catch (RuntimeException e) {
                log.error("cluster '{}': cannot clean up after interrupted run {}: {}", run.cluster(), run.id(), e.getMessage(), e);
            }
        }
    }

    /**
     * Records as failed the running rows whose daemon is gone ({@code predecessor}: this instance's own rows, which a
     * killed earlier life of this daemon left). SKIP LOCKED: two daemons looking at once never take the same row.
     */
    private List<JobRun> reap(boolean predecessor) {
        List<JobRun> reaped = new ArrayList<>();
        try (Connection c = store.getConnection()) {
            c.setAutoCommit(false);
            List<JobRun> candidates = new ArrayList<>();
            Map<String, String> owners = new HashMap<>();
            try (PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM pgwarden_runs WHERE state = 'running' AND "
                    + (predecessor ? "instance = ?" : "instance <> ?") + " FOR UPDATE SKIP LOCKED")) {
                s.setString(1, instance);
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        candidates.add(row(r));
                        owners.put(r.getString("id"), r.getString("instance"));
                    }
                }
            }
            Map<String, Boolean> gone = new HashMap<>();
            for (JobRun run : candidates) {
                String owner = owners.get(run.id());
                if (!predecessor && !gone.computeIfAbsent(owner, o -> goneLongEnough(c, o))) continue;
                JobRun failed = run.finish(JobState.FAILED, clock.instant(), "daemon '" + owner + "' stopped while it ran this "
                        + run.kind().noun().replaceFirst("^an? ", "") + " (killed, crashed or its host lost); found by daemon '" + instance
                        + "'", ErrorCode.INTERRUPTED.name(), null);
                writeEnd(c, failed);
                reaped.add(failed);
            }
            c.commit();
        } catch (SQLException e) {
            throw StoreFailure.of(config, "cannot look for interrupted runs", e);
        }
        return reaped;
    }

    private boolean goneLongEnough(Connection c, String owner) {
        try {
            if (!PresenceLock.gone(c, owner)) {
                seenGone.remove(owner);
                return false;
            }
            Instant since = seenGone.computeIfAbsent(owner, o -> clock.instant());
            if (since.plus(GONE_FOR).isAfter(clock.instant())) return false;
            seenGone.remove(owner);
            return true;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot probe the presence of daemon '" + owner + "': " + e.getMessage(), e);
        }
    }

    private static void writeEnd(Connection c, JobRun done) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(
                "UPDATE pgwarden_runs SET state = 'failed', finished_at = ?, error = ?, error_code = ? WHERE id = ? AND state = 'running'")) {
            s.setTimestamp(1, Timestamp.from(done.finishedAt()));
            s.setString(2, done.error());
            s.setString(3, done.errorCode());
            s.setString(4, done.id());
            s.executeUpdate();
        }
    }

    private void forgetOldRuns() throws SQLException {
        try (Connection c = store.getConnection(); PreparedStatement s = c.prepareStatement(
                "DELETE FROM pgwarden_runs WHERE state <> 'running' AND finished_at < ?")) {
            s.setTimestamp(1, Timestamp.from(clock.instant().minus(KEEP_FINISHED)));
            s.executeUpdate();
        }
    }

    private static JobRun row(ResultSet r) throws SQLException {
        Timestamp finished = r.getTimestamp("finished_at");
        return new JobRun(r.getString("id"), r.getString("cluster"), JobKind.valueOf(r.getString("kind")), r.getString("database"),
                r.getString("trigger"), JobState.valueOf(r.getString("state").toUpperCase(java.util.Locale.ROOT)),
                r.getTimestamp("started_at").toInstant(), finished == null ? null : finished.toInstant(), r.getString("error"),
                r.getString("error_code"), r.getString("error_object"));
    }

    @Override
    public void close() {
        watcher.shutdownNow();
        presence.close();
    }
}
