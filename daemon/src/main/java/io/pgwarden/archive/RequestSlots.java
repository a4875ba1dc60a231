package io.pgwarden.archive;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds the WAL requests (pushes and fetches) at work at once, and those waiting for a turn: each holds a request
 * thread and, for a push, up to a spool threshold of memory. Beyond the waiting bound a request is answered 503 at
 * once (PostgreSQL retries), so a flood of slow or stuck requests cannot take every thread from /health and /metrics.
 */
public final class RequestSlots {
    /** Requests waiting for a slot, as a multiple of the slots (HttpServer sizes its thread pool by it). */
    public static final int WAITERS_PER_SLOT = 2;

    private final int slots;
    private final Semaphore free;
    private final Duration wait;
    private final AtomicInteger waiting = new AtomicInteger();

    public RequestSlots(int slots, Duration wait) {
        this.slots = slots;
        this.free = new Semaphore(slots, true);
        this.wait = wait;
    }

    /** Released by closing. */
    public interface Permit extends AutoCloseable {
        @Override
        void close();
    }

    /** @param what names the request in the 503 answer, e.g. "WAL file '000000010000000000000003'" */
    public Permit acquire(String what) {
        if (!free.tryAcquire()) awaitTurn(what);
        return free::release;
    }

    private void awaitTurn(String what) {
        try {
            if (waiting.incrementAndGet() <= WAITERS_PER_SLOT * slots && free.tryAcquire(wait.toMillis(), TimeUnit.MILLISECONDS)) return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            waiting.decrementAndGet();
        }
        throw new PgwardenException(ErrorCode.REPOSITORY_UNAVAILABLE, "too many WAL requests in flight (" + slots
                + ", server.maxConcurrentPushes); " + what + " was not served, retry");
    }
}
