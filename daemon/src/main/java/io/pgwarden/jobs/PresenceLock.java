package io.pgwarden.jobs;

import io.pgwarden.config.SchedulerConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This daemon's presence in the shared store: a session-level advisory lock on its instance name, held by one
 * connection for the daemon's life. A daemon that dies loses its session and with it the lock: at once when its process
 * is killed (the kernel closes the socket), within about 25 s when its host is lost (TCP keepalives, set here for this
 * session). Another daemon that can take the lock for a moment knows that daemon is gone.
 */
final class PresenceLock implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PresenceLock.class);
    /** The advisory lock space of pgwarden's presence locks ('pgwd'): the key is (this, hashtext(instance)). */
    private static final int LOCK_CLASS = 0x70677764;
    private static final String KEY = LOCK_CLASS + ", hashtext(?)";

    private final DataSource store;
    private final SchedulerConfig.JdbcStore config;
    private final String instance;
    private Connection session;
    private boolean held;

    private PresenceLock(DataSource store, SchedulerConfig.JdbcStore config, String instance) {
        this.store = store;
        this.config = config;
        this.instance = instance;
    }

    /**
     * Takes the lock, waiting up to {@code wait} for the session of a killed predecessor of the same name to end;
     * refuses to start beside a live daemon of the same name.
     */
    static PresenceLock take(DataSource store, SchedulerConfig.JdbcStore config, String instance, Duration wait) {
        PresenceLock lock = new PresenceLock(store, config, instance);
        long deadline = System.nanoTime() + wait.toNanos();
        while (!(lock.held = lock.tryTake())) {
            if (System.nanoTime() > deadline) {
                lock.close();
                throw new PgwardenException(ErrorCode.CONFIG, "another pgwarden daemon named '" + instance + "' (server.instance) is"
                        + " connected to the scheduler store; HINT: give each daemon sharing the store its own server.instance");
            }
            sleep(Duration.ofMillis(500));
        }
        return lock;
    }

    private boolean tryTake() {
        try {
            if (session == null || session.isClosed()) {
                session = store.getConnection();
                session.setAutoCommit(true);
                try (Statement s = session.createStatement()) {
                    s.execute("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3");
                }
            }
            return tryLock(session, "pg_try_advisory_lock", instance);
        } catch (SQLException e) {
            throw StoreFailure.of(config, "cannot take this daemon's presence lock", e);
        }
    }

    /**
     * Checks that the session still holds the lock, and takes it again on a new session when the old one broke (the
     * store restarted). Between the two, other daemons may have found this daemon's runs interrupted.
     */
    void keep() {
        if (held) {
            try (Statement s = session.createStatement()) {
                s.execute("SELECT 1");
                return;
            } catch (SQLException | RuntimeException e) {
                log.warn("lost the scheduler store session holding instance '{}''s presence lock ({}); taking it again", instance, e.getMessage());
            }
        }
        closeSession();
        held = tryTake();
        if (!held) log.error("instance '{}''s presence lock is held by another session: is a second daemon of this name running?", instance);
    }

    /** In {@code tx} (not auto-committing): whether the daemon named {@code other} is gone. The probe lock ends with tx. */
    static boolean gone(Connection tx, String other) throws SQLException {
        return tryLock(tx, "pg_try_advisory_xact_lock", other);
    }

    /** {@code function} is pg_try_advisory_lock (held for the session) or its _xact_ form (held for the transaction). */
    private static boolean tryLock(Connection c, String function, String name) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT " + function + "(" + KEY + ")")) {
            s.setString(1, name);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getBoolean(1);
            }
        }
    }

    private void closeSession() {
        held = false;
        try {
            if (session != null) session.close();
        } catch (SQLException ignored) {
            // the session is gone either way
        }
        session = null;
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PgwardenException(ErrorCode.SCHEDULER_STORE, "interrupted while waiting for the presence lock", e);
        }
    }

    @Override
    public void close() {
        closeSession();
    }
}
