package io.pgwarden.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a file another process is still writing (pg_basebackup's base.tar.zst) as it grows, to its end once that
 * process has ended; a file that is not there yet is waited for. What has been read is handed back to the filesystem
 * (fallocate --punch-hole), so the file takes a few dozen MiB of disk however large the backup grows. The writer may
 * be a sidecar's: neither the file nor its directory may be a symbolic link (it would have the daemon read, and punch
 * holes into, a file of its own choosing).
 */
public final class GrowingFileInputStream extends InputStream {
    private static final Logger log = LoggerFactory.getLogger(GrowingFileInputStream.class);
    /** How long to wait for more when the reader has caught up with the writer. */
    private static final long POLL_MILLIS = 2;

    private final Path file;
    private final Writer writer;
    private long lastByte = System.nanoTime();
    private final long releaseEvery;
    private FileChannel channel;
    private Object fileKey;
    private long position;
    private long released;
    private boolean releasing = true;

    /** What the reader learns from, and tells, the side of the writer. */
    public interface Writer {
        /** True once the writer can write no more (its process has exited); throws to give up reading. */
        boolean ended() throws IOException;

        /** Called while the reader waits with nothing new, {@code idleNanos} after the last byte (or the start); throws to give up. */
        default void waiting(long idleNanos) throws IOException {
        }
    }

    /** @param releaseEvery how many bytes are read between two punches (0: never) */
    public GrowingFileInputStream(Path file, Writer writer, long releaseEvery) {
        this.file = file;
        this.writer = writer;
        this.releaseEvery = releaseEvery;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) return 0;
        while (true) {
            // Read before the check: once the writer has ended, what the file holds now is all of it.
            boolean ended = writer.ended();
            if (channel == null && !open()) {
                if (ended) return -1;
                pause();
                continue;
            }
            int n = channel.read(ByteBuffer.wrap(b, off, len));
            if (n > 0) {
                position += n;
                lastByte = System.nanoTime();
                if (releasing && releaseEvery > 0 && position - released >= releaseEvery) release();
                return n;
            }
            if (ended) return -1;
            pause();
        }
    }

    private void pause() throws IOException {
        writer.waiting(System.nanoTime() - lastByte);
        sleep();
    }

    /** What the file holds beyond what was read, now (0 also before it exists). */
    @Override
    public int available() throws IOException {
        return channel == null ? 0 : (int) Math.min(Integer.MAX_VALUE, Math.max(0, channel.size() - position));
    }

    /** Bytes read so far. */
    public long position() {
        return position;
    }

    private boolean open() throws IOException {
        if (Files.isSymbolicLink(file.getParent())) throw new IOException("'" + file.getParent() + "' is a symbolic link, not the tool's directory");
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            fileKey = key();
            return true;
        } catch (java.nio.file.NoSuchFileException notYet) {
            return false;
        }
    }

    private static void sleep() throws InterruptedIOException {
        try {
            Thread.sleep(POLL_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the file to grow");
        }
    }

    private Object key() throws IOException {
        return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
    }

    /** Punches out what was read, in whole MiB. A filesystem that cannot is told once and then left alone. */
    private void release() {
        long upTo = position & ~((1L << 20) - 1);
        try {
            // fallocate opens the path again: it must still be the file being read.
            if (Files.isSymbolicLink(file.getParent()) || !fileKey.equals(key())) throw new IOException("the file was replaced while it was read");
            Process punch = new ProcessBuilder("fallocate", "--punch-hole", "--offset", "0", "--length", Long.toString(upTo), file.toString())
                    .redirectErrorStream(true).start();
            String out = new String(punch.getInputStream().readAllBytes()).strip();
            if (!punch.waitFor(10, TimeUnit.SECONDS) || punch.exitValue() != 0) throw new IOException(out);
            released = upTo;
        } catch (IOException e) {
            releasing = false;
            log.warn("cannot give back the disk space of what was read of '{}' (fallocate --punch-hole): {}; the file keeps its whole size"
                    + " until the run ends", file, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            releasing = false;
        }
    }

    @Override
    public void close() throws IOException {
        if (channel != null) channel.close();
    }
}
