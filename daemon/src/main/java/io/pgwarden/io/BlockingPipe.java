package io.pgwarden.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A bounded hand-over of byte chunks from a producer thread to a reader. When the reader is slower, the producer
 * blocks (backpressure). The producer ends it with {@link #finish(Throwable)}: null means a clean end of stream,
 * an error makes the reader's next read throw, so a consumer such as an upload aborts instead of completing.
 * <p>Bounded by bytes, not by chunks: with 1 MiB chunks a bound of 64 chunks let one pipe hold 64 MiB behind a slow
 * reader, and a restore's two pipes filled a 128 MiB heap (OutOfMemoryError restoring 1.6 GB into a Docker volume).
 */
public final class BlockingPipe extends InputStream {
    private static final byte[] EOF = new byte[0];
    /** Bytes waiting in the pipe, at most: enough for the producer to run ahead of the reader by a few chunks. */
    public static final int CAPACITY = 4 << 20;

    private final BlockingQueue<byte[]> frames = new LinkedBlockingQueue<>();
    /**
     * Chunks the reader has finished with, for {@link #writer} to fill again: without them each chunk was a new array
     * that, waiting in the pipe behind a slower reader, outlived young collections and grew the old generation (a
     * base backup that PostgreSQL compressed grew the daemon's heap by 50 MiB).
     */
    private final java.util.Queue<byte[]> spare = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private volatile int spareSize = -1;
    /** Free room in bytes; a chunk takes min(its size, CAPACITY) of it while it waits in the queue. */
    private final Semaphore room = new Semaphore(CAPACITY);
    private byte[] current = new byte[0];
    private int pos;
    private volatile boolean closed;
    private volatile Throwable failure;

    /** What a writer gets once the reading side has closed the pipe: the reader stopped, nobody wants the rest. */
    public static final class ReaderGone extends IOException {
        ReaderGone() {
            super("the reading side of the pipe has gone away");
        }
    }

    /** Writes a stream's content; an exception ends the pipe with that error. */
    public interface Producer {
        void writeTo(OutputStream out) throws IOException;
    }

    /**
     * Runs {@code producer} in a virtual thread named {@code thread}, writing into this pipe in chunks of {@code chunk}
     * bytes, and ends the pipe with its outcome; the future fails with the producer's error.
     */
    public java.util.concurrent.CompletableFuture<Void> feedFrom(Producer producer, int chunk, String thread) {
        return java.util.concurrent.CompletableFuture.runAsync(() -> {
            try (OutputStream out = writer(chunk)) {
                producer.writeTo(out);
            } catch (IOException | RuntimeException e) {
                finish(e);
                throw e instanceof RuntimeException r ? r : new java.util.concurrent.CompletionException(e);
            }
            finish(null);
        }, r -> Thread.ofVirtual().name(thread).start(r));
    }

    /** Hands over a chunk (the pipe keeps it: do not reuse it). Returns false once the reader has gone away. */
    public boolean offer(byte[] data) {
        try {
            while (!closed) {
                if (room.tryAcquire(weight(data), 100, TimeUnit.MILLISECONDS)) {
                    frames.add(data);
                    return true;
                }
            }
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    public void finish(Throwable error) {
        failure = error;
        if (!closed) frames.add(EOF); // takes no room: the end must always get through
    }

    private static int weight(byte[] chunk) {
        return Math.min(chunk.length, CAPACITY);
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) return 0;
        while (pos == current.length) {
            if (current == EOF) return -1;
            try {
                byte[] done = current;
                current = frames.take();
                room.release(weight(current));
                if (done.length == spareSize && spare.size() < CAPACITY / spareSize + 2) spare.add(done);
                pos = 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while waiting for the tool's output");
            }
            if (current == EOF) {
                if (failure != null) throw new IOException(failure.getMessage(), failure);
                return -1;
            }
        }
        int n = Math.min(len, current.length - pos);
        System.arraycopy(current, pos, b, off, n);
        pos += n;
        return n;
    }

    @Override
    public void close() {
        closed = true;
        frames.clear();
        room.release(CAPACITY); // a producer blocked on room wakes and sees the pipe closed
    }

    /** An OutputStream that copies what is written into the pipe in chunks of up to {@code chunk} bytes. */
    public OutputStream writer(int chunk) {
        spareSize = chunk;
        return new OutputStream() {
            private byte[] buf = new byte[chunk];
            private int len;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int n) throws IOException {
                while (n > 0) {
                    int k = Math.min(n, buf.length - len);
                    System.arraycopy(b, off, buf, len, k);
                    len += k;
                    off += k;
                    n -= k;
                    if (len == buf.length) handOver();
                }
            }

            /** A full chunk goes as it is; the next is one the reader has finished with, if there is one. */
            private void handOver() throws IOException {
                if (!offer(buf)) throw new ReaderGone();
                byte[] next = spare.poll();
                buf = next != null ? next : new byte[chunk];
                len = 0;
            }

            @Override
            public void flush() throws IOException {
                if (len == 0) return;
                if (!offer(java.util.Arrays.copyOf(buf, len))) throw new ReaderGone();
                len = 0;
            }

            /** Flushes, but does not end the stream: the producer decides that with finish(). */
            @Override
            public void close() throws IOException {
                flush();
            }
        };
    }
}
