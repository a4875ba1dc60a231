package io.pgwarden.runner;

import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Turns docker-java's pushed stdout frames into an InputStream for the consumer. Bounded: when the consumer
 * is slower than the tool, the frame callback blocks, and so does the container's output (backpressure).
 */
final class FramePipe extends InputStream {
    private static final byte[] EOF = new byte[0];

    private final BlockingQueue<byte[]> frames = new ArrayBlockingQueue<>(64);
    private byte[] current = new byte[0];
    private int pos;
    private volatile boolean closed;
    private volatile Throwable failure;

    /** Called from docker-java's thread. Returns false once the reader has gone away. */
    boolean offer(byte[] data) {
        try {
            while (!closed) {
                if (frames.offer(data, 100, TimeUnit.MILLISECONDS)) return true;
            }
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    void finish(Throwable error) {
        failure = error;
        while (!closed) {
            try {
                if (frames.offer(EOF, 100, TimeUnit.MILLISECONDS)) return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
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
                current = frames.take();
                pos = 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while waiting for the tool's output");
            }
            if (current == EOF) {
                if (failure != null) throw new IOException("the tool's output stream broke: " + failure.getMessage(), failure);
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
    }
}
