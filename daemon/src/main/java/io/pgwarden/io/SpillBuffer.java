package io.pgwarden.io;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import io.pgwarden.storage.ChunkPool;

/**
 * Holds an encoded object until its checksum is known (object metadata must be sent before the body).
 * Stays in memory (chunks of the process's {@link ChunkPool}) up to a threshold, then spills to a temp file, so memory
 * is bounded whatever the size; it spills early, rather than wait, when the pool has no chunk free.
 */
public final class SpillBuffer extends OutputStream implements io.pgwarden.storage.StorageDriver.SizedContent {
    private static final int CHUNK = ChunkPool.CHUNK;

    private final ChunkPool pool;
    private final long memoryLimit;
    private final Path spoolDir;
    private final String prefix;
    private final List<byte[]> chunks = new ArrayList<>();
    private int lastChunkUsed = CHUNK;
    private long size;
    private Path file;
    private OutputStream fileOut;

    /** @param owner names the spool files ({@code pgwarden-spool-OWNER-*.tmp}), so a restarted owner can remove its leftovers */
    public SpillBuffer(ChunkPool pool, long memoryLimit, Path spoolDir, String owner) {
        this.pool = pool;
        this.memoryLimit = memoryLimit;
        this.spoolDir = spoolDir;
        this.prefix = filePrefix(owner);
    }

    static String filePrefix(String owner) {
        return io.pgwarden.storage.StagingDir.filePrefix(owner);
    }

    /**
     * Removes the spool files an earlier run of {@code owner} left when it was killed mid-push (a live process's
     * files are never touched: call before serving). Returns how many were removed.
     */
    public static int removeLeftovers(Path spoolDir, String owner) throws IOException {
        if (!Files.isDirectory(spoolDir)) return 0;
        int removed = 0;
        try (var files = Files.newDirectoryStream(spoolDir, filePrefix(owner) + "*.tmp")) {
            for (Path f : files) {
                if (Files.deleteIfExists(f)) removed++;
            }
        }
        // Directories a local pg_basebackup wrote its files into (a base backup with PostgreSQL compressing).
        try (var dirs = Files.newDirectoryStream(spoolDir, filePrefix(owner) + "*.dir")) {
            for (Path d : dirs) {
                FileTrees.delete(d);
                removed++;
            }
        }
        return removed;
    }

    /** The spool itself failed (its disk is full, it is not writable): not the client's fault, a reason to retry later. */
    public static final class SpoolException extends IOException {
        SpoolException(String message, IOException cause) {
            super(message, cause);
        }
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        if (fileOut == null && size + len > memoryLimit) spill();
        if (fileOut != null) {
            try {
                fileOut.write(b, off, len);
            } catch (IOException e) {
                throw failed(e);
            }
            size += len;
            return;
        }
        while (len > 0) {
            if (lastChunkUsed == CHUNK) {
                byte[] chunk = pool.tryTake();
                if (chunk == null) {
                    spill();
                    write(b, off, len);
                    return;
                }
                chunks.add(chunk);
                lastChunkUsed = 0;
            }
            int n = Math.min(len, CHUNK - lastChunkUsed);
            System.arraycopy(b, off, chunks.get(chunks.size() - 1), lastChunkUsed, n);
            lastChunkUsed += n;
            size += n;
            off += n;
            len -= n;
        }
    }

    private void spill() throws IOException {
        try {
            Files.createDirectories(spoolDir);
            file = Files.createTempFile(spoolDir, prefix, ".tmp");
            fileOut = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 17);
            for (int i = 0; i < chunks.size(); i++) {
                fileOut.write(chunks.get(i), 0, i == chunks.size() - 1 ? lastChunkUsed : CHUNK);
            }
        } catch (IOException e) {
            throw failed(e);
        }
        giveBack();
    }

    private void giveBack() {
        pool.give(chunks);
        chunks.clear();
        lastChunkUsed = CHUNK;
    }

    private SpoolException failed(IOException e) {
        return new SpoolException("cannot spool to '" + spoolDir + "' (server.spoolDir): " + e.getMessage(), e);
    }

    @Override
    public void flush() throws IOException {
        try {
            if (fileOut != null) fileOut.flush();
        } catch (IOException e) {
            throw failed(e);
        }
    }

    @Override
    public long length() {
        return size;
    }

    /** Reads back what was written (again, for a retry); call after the writer has finished. */
    @Override
    public InputStream open() throws IOException {
        if (fileOut != null) {
            fileOut.flush();
            return Files.newInputStream(file);
        }
        List<InputStream> parts = new ArrayList<>();
        for (int i = 0; i < chunks.size(); i++) {
            parts.add(new ByteArrayInputStream(chunks.get(i), 0, i == chunks.size() - 1 ? lastChunkUsed : CHUNK));
        }
        return new SequenceInputStream(Collections.enumeration(parts));
    }

    /** Writing is done: closing a compressor on top of us must not discard the data. Use {@link #discard()}. */
    @Override
    public void close() throws IOException {
        flush();
    }

    /** Frees memory and deletes the spool file. */
    public void discard() {
        giveBack();
        try {
            if (fileOut != null) fileOut.close();
            if (file != null) Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a leftover spool file in the temp directory is harmless
        }
    }
}
