package io.pgwarden.storage;

import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.config.S3Config;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The memory that uploads buffer in: multipart parts and the spill buffers of WAL pushes take 1 MiB chunks from
 * here, so the heap they hold is bounded whatever the load (before, each push in flight could hold 8 MiB, and 32 slow
 * pushes of incompressible WAL ran the daemon out of heap). Chunks are reused rather than left to the collector.
 * <p>Two ways to take: {@link #tryTake()} never waits (a spill buffer that gets nothing writes to disk instead), and
 * {@link #take(int)} waits for all it asks at once, so callers must hold no chunks while they wait: then two waiters
 * can never each hold half of what the other needs. Both honour the queue: a waiting upload is not starved by pushes.
 */
public final class ChunkPool {
    public static final int CHUNK = 1 << 20;
    /** At least this much, so one upload can send a part while it reads the next. */
    public static final long MIN_BYTES = 32L << 20;

    private final int capacity;
    private final Semaphore free;
    private final ConcurrentLinkedQueue<byte[]> idle = new ConcurrentLinkedQueue<>();

    public ChunkPool(long bytes) {
        if (bytes < CHUNK) throw new IllegalArgumentException("a chunk pool needs at least one chunk of " + CHUNK + " bytes");
        this.capacity = (int) Math.min(bytes / CHUNK, Integer.MAX_VALUE);
        this.free = new Semaphore(capacity, true);
    }

    /** Room for two parts of the repository's part size (one sent while the next is read), and no less than {@link #MIN_BYTES}. */
    public static ChunkPool forRepository(RepositoryConfig repository) {
        long part = repository.s3().map(S3Config::partSize).orElse(S3Config.DEFAULT_PART_SIZE);
        return new ChunkPool(Math.max(MIN_BYTES, 2 * chunksFor(part) * (long) CHUNK));
    }

    /** How many chunks hold {@code bytes}. */
    public static int chunksFor(long bytes) {
        return (int) ((bytes + CHUNK - 1) / CHUNK);
    }

    /** One chunk if one is free now, else null. */
    public byte[] tryTake() {
        return acquireNow(1) ? chunk() : null;
    }

    /** {@code n} chunks if they are free now, else null. */
    public List<byte[]> tryTake(int n) {
        return acquireNow(n) ? chunks(n) : null;
    }

    /** Waits for {@code n} chunks; the caller must hold none of this pool's chunks meanwhile. */
    public List<byte[]> take(int n) throws InterruptedIOException {
        if (n > capacity) throw new IllegalArgumentException(n + " chunks asked of a pool of " + capacity);
        try {
            free.acquire(n);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + n + " MiB of upload buffers");
        }
        return chunks(n);
    }

    /** Returns a chunk; its content is garbage from now on. */
    public void give(byte[] chunk) {
        if (chunk.length != CHUNK) throw new IllegalArgumentException("not a chunk of this pool: " + chunk.length + " bytes");
        idle.add(chunk);
        free.release();
    }

    public void give(List<byte[]> chunks) {
        chunks.forEach(this::give);
    }

    public long capacityBytes() {
        return (long) capacity * CHUNK;
    }

    public int chunksInUse() {
        return capacity - free.availablePermits();
    }

    public long bytesInUse() {
        return (long) chunksInUse() * CHUNK;
    }

    /** tryAcquire(0, unit) rather than tryAcquire(): the plain form barges past queued waiters. */
    private boolean acquireNow(int n) {
        try {
            return free.tryAcquire(n, 0, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private List<byte[]> chunks(int n) {
        List<byte[]> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(chunk());
        return out;
    }

    private byte[] chunk() {
        byte[] c = idle.poll();
        return c != null ? c : new byte[CHUNK];
    }
}
