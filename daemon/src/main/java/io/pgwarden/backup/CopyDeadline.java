package io.pgwarden.backup;

import io.pgwarden.pg.BackupSession;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * baseBackup.timeout for a copy the daemon makes itself (no tool process to kill): when it passes, the server's
 * session is closed (PostgreSQL ends the backup) and the copying thread is interrupted (its file reads and pipe writes
 * end), so a copy wedged on a slow disk or a stalled repository does not hold the run forever.
 */
final class CopyDeadline implements AutoCloseable {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "backup-deadlines");
        t.setDaemon(true);
        return t;
    });

    private final Thread copying;
    private final ScheduledFuture<?> alarm;
    private volatile boolean passed;

    private CopyDeadline(Thread copying, Duration timeout, BackupSession session) {
        this.copying = copying;
        this.alarm = TIMER.schedule(() -> {
            passed = true;
            session.close();
            copying.interrupt();
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Starts the clock for the calling thread's copy. */
    static CopyDeadline after(Duration timeout, BackupSession session) {
        return new CopyDeadline(Thread.currentThread(), timeout, session);
    }

    boolean passed() {
        return passed;
    }

    /** Stops the clock; an interrupt it delivered is cleared, so the failure can still be recorded. */
    @Override
    public void close() {
        alarm.cancel(false);
        if (passed) Thread.interrupted();
    }
}
