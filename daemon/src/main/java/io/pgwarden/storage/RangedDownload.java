package io.pgwarden.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * An object's content read front to back as consecutive ranges, {@code streams} GETs of them in flight at once: the
 * first is the response that opened the object, read as it arrives; each later one is fetched ahead of the reader
 * into a buffer of its own (memory: at most {@code streams + 1} buffers of one range, reused). A range that fails, or
 * comes back with more or fewer bytes than asked, fails the read naming it; nothing is skipped or read twice.
 * <p>Only the reader's thread touches the bookkeeping; fetches run on virtual threads and hand back their buffer.
 */
final class RangedDownload extends InputStream {
    /** Reads bytes [from, from + length) of the object into {@code into[0, length)}, exactly, or throws. */
    interface RangeFetch {
        void fetch(long from, int length, byte[] into) throws IOException;
    }

    private static final ExecutorService FETCHES = Executors.newVirtualThreadPerTaskExecutor();

    private final InputStream first;
    private final long size;
    private final int rangeSize;
    private final int streams;
    private final int ranges;
    private final RangeFetch fetch;
    private final String what;
    private final Map<Integer, CompletableFuture<byte[]>> fetching = new HashMap<>();
    private final ArrayDeque<byte[]> spare = new ArrayDeque<>();
    private volatile boolean closed;

    private int current;
    private int scheduledUpTo;
    private long firstRead;
    private byte[] buffer;
    private int pos;
    private int limit;

    /**
     * @param first the open response of range 0 ({@code [0, rangeSize)}, or the whole object if smaller)
     * @param what  the object, for errors, e.g. "'s3://bucket/key'"
     */
    RangedDownload(InputStream first, long size, int rangeSize, int streams, RangeFetch fetch, String what) {
        if (rangeSize <= 0 || streams < 1 || size < 0) throw new IllegalArgumentException("bad ranged download " + size + "/" + rangeSize + "/" + streams);
        this.first = first;
        this.size = size;
        this.rangeSize = rangeSize;
        this.streams = streams;
        this.ranges = (int) Math.max(1, (size + rangeSize - 1) / rangeSize);
        this.fetch = fetch;
        this.what = what;
        scheduleAhead();
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (closed) throw new IOException("reading " + what + " after it was closed");
        if (len == 0) return 0;
        while (current < ranges) {
            if (current == 0) {
                int n = readFirst(b, off, len);
                if (n > 0) return n;
            } else if (pos < limit) {
                int n = Math.min(len, limit - pos);
                System.arraycopy(buffer, pos, b, off, n);
                pos += n;
                return n;
            }
            advance();
        }
        return -1;
    }

    /** From range 0's response; -1 once it has given exactly its length. */
    private int readFirst(byte[] b, int off, int len) throws IOException {
        long expected = length(0);
        int n = first.read(b, off, (int) Math.min(len, expected - firstRead));
        if (n > 0) {
            firstRead += n;
            return n;
        }
        if (firstRead < expected) throw new IOException(what + ": the first range ended after " + firstRead + " of " + expected + " bytes");
        if (expected > 0 && first.read() != -1) throw new IOException(what + ": the first range holds more than the " + expected + " bytes asked");
        return -1;
    }

    /** Leaves the range read to its end for the next one, waiting for it to arrive. */
    private void advance() throws IOException {
        if (current == 0) {
            first.close();
        } else {
            spare.push(buffer);
        }
        buffer = null;
        current++;
        if (current >= ranges) return;
        try {
            buffer = fetching.remove(current).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new InterruptedIOException("interrupted while reading " + what);
        } catch (ExecutionException e) {
            close();
            Throwable cause = e.getCause();
            throw new IOException(what + ": cannot read bytes " + offset(current) + "-" + (offset(current) + length(current) - 1)
                    + ": " + cause.getMessage(), cause);
        }
        pos = 0;
        limit = length(current);
        scheduleAhead();
    }

    /**
     * Keeps {@code streams} GETs in flight: while the first range streams in, the next {@code streams - 1}; while a
     * fetched range is read from its buffer, the {@code streams} after it, so a reader slower than the network (a
     * restore decompressing and writing files) keeps them all busy, not one fewer.
     */
    private void scheduleAhead() {
        int last = Math.min(ranges - 1, current == 0 ? streams - 1 : current + streams);
        while (scheduledUpTo < last) {
            int range = ++scheduledUpTo;
            byte[] into = spare.isEmpty() ? new byte[rangeSize] : spare.pop();
            long from = offset(range);
            int length = length(range);
            fetching.put(range, CompletableFuture.supplyAsync(() -> {
                if (closed) throw new java.util.concurrent.CancellationException("closed");
                try {
                    fetch.fetch(from, length, into);
                } catch (IOException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
                return into;
            }, FETCHES));
        }
    }

    private long offset(int range) {
        return (long) range * rangeSize;
    }

    private int length(int range) {
        return (int) Math.min(rangeSize, size - offset(range));
    }

    /** Stops asking for ranges; those in flight finish into buffers nobody reads. */
    @Override
    public void close() throws IOException {
        if (closed) return;
        closed = true;
        fetching.values().forEach(f -> f.cancel(false));
        fetching.clear();
        if (current == 0) first.close();
    }
}
