package io.pgwarden.archive;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Bounds the WAL requests (pushes and fetches) at work at once, and those waiting for a turn: each holds a request
 * thread and, for a push, up to a spool threshold of memory. Beyond the waiting bound a request is answered 503 at
 * once (PostgreSQL retries), so a flood of slow or stuck requests cannot take every thread from /health and /metrics.
 * Each cluster also has its own, smaller bound, taken first: one cluster's flood (a runaway archiver, a client
 * trickling its bodies) waits or is refused within its own share and leaves the other clusters' pushes their slots.
 * Requests waiting at either bound count against one waiting limit, so the threads they hold stay bounded.
 */
public final class RequestSlots {
    /** Requests waiting for a slot, as a multiple of the slots (HttpServer sizes its thread pool by it). */
    public static final int WAITERS_PER_SLOT = 2;

    private final Gate all;
    private final Map<String, Gate> clusters;
    private final AtomicInteger waiting = new AtomicInteger();
    private final int maxWaiting;

    /**
     * @param perCluster slots one cluster may hold at once
     * @param clusters   the configured clusters (a request for another one was refused before it asks for a slot)
     */
    public RequestSlots(int slots, int perCluster, Collection<String> clusters, Duration wait) {
        this.maxWaiting = WAITERS_PER_SLOT * slots;
        this.all = new Gate(slots, wait, "too many WAL requests in flight (" + slots + ", server.maxConcurrentPushes)");
        this.clusters = clusters.stream().collect(Collectors.toUnmodifiableMap(Function.identity(), c -> new Gate(perCluster, wait,
                "too many WAL requests of cluster '" + c + "' in flight (" + perCluster + ", server.maxConcurrentPushesPerCluster)")));
    }

    /** Released by closing. */
    public interface Permit extends AutoCloseable {
        @Override
        void close();
    }

    /** @param what names the request in the 503 answer, e.g. "WAL file '000000010000000000000003'" */
    public Permit acquire(String cluster, String what) {
        Gate own = clusters.get(cluster);
        if (own != null) own.enter(what);
        try {
            all.enter(what);
        } catch (RuntimeException e) {
            if (own != null) own.leave();
            throw e;
        }
        return () -> {
            all.leave();
            if (own != null) own.leave();
        };
    }

    /** Slots, waited for up to a time while the shared waiting limit allows. */
    private final class Gate {
        private final Semaphore free;
        private final Duration wait;
        private final String refusal;

        Gate(int slots, Duration wait, String refusal) {
            this.free = new Semaphore(slots, true);
            this.wait = wait;
            this.refusal = refusal;
        }

        void enter(String what) {
            if (free.tryAcquire()) return;
            try {
                if (waiting.incrementAndGet() <= maxWaiting && free.tryAcquire(wait.toMillis(), TimeUnit.MILLISECONDS)) return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                waiting.decrementAndGet();
            }
            throw new PgwardenException(ErrorCode.REPOSITORY_UNAVAILABLE, refusal + "; " + what + " was not served, retry");
        }

        void leave() {
            free.release();
        }
    }
}
