package io.pgwarden.server;

import io.pgwarden.error.PgwardenException;
import io.pgwarden.storage.StorageDriver;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the repository answers, checked in the background: /ready answers from the last result, so a flood of
 * /ready requests costs the repository nothing and a repository that never answers cannot hold request threads.
 * A check that has not come back within {@link #STALE} counts as a failure.
 */
public final class ReadinessProbe implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ReadinessProbe.class);
    static final Duration INTERVAL = Duration.ofSeconds(2);
    static final Duration STALE = Duration.ofSeconds(10);

    private final StorageDriver storage;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("readiness-probe").factory());
    private volatile long lastSuccessNanos;
    private volatile String problem = "not checked yet";

    public ReadinessProbe(StorageDriver storage) {
        this.storage = storage;
    }

    /** Checks at once (in the background: a repository that never answers must not hold the start), then every INTERVAL. */
    public ReadinessProbe start() {
        timer.scheduleWithFixedDelay(this::check, 0, INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        return this;
    }

    private void check() {
        try {
            storage.checkReachable();
            if (problem != null) log.info("repository {} is reachable: ready", storage.describe());
            problem = null;
            lastSuccessNanos = System.nanoTime();
        } catch (PgwardenException e) {
            if (problem == null || !problem.equals(e.getMessage())) log.warn("not ready: repository unavailable: {}", e.getMessage());
            problem = e.getMessage();
        } catch (RuntimeException e) {
            log.error("readiness check failed unexpectedly", e);
            problem = e.toString();
        }
    }

    boolean ready() {
        return problem == null && System.nanoTime() - lastSuccessNanos < STALE.toNanos();
    }

    /** Why not ready, for the log and for a caller with the admin token. */
    String detail() {
        if (ready()) return "ready";
        String p = problem;
        return "repository unavailable: " + (p != null ? p : "no answer to the last check within " + STALE.toSeconds() + "s");
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
