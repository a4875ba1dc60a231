package io.pgwarden.storage;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Up to one part of an upload, held in chunks of a {@link ChunkPool}: read from the source once, sent (and re-sent on a
 * retry) from memory, given back exactly once. Chunks the part did not need go back as soon as it is read.
 */
final class PooledPart implements UploadPart {
    private final ChunkPool pool;
    private List<byte[]> chunks;
    private final int length;

    private PooledPart(ChunkPool pool, List<byte[]> chunks, int length) {
        this.pool = pool;
        this.chunks = chunks;
        this.length = length;
    }

    /**
     * Fills {@code chunks} (taken from {@code pool} for this part) with {@code head} and then from {@code in}, up to
     * {@code max} bytes; on failure the chunks go back before the exception leaves.
     */
    static PooledPart read(ChunkPool pool, List<byte[]> chunks, byte[] head, InputStream in, int max) throws IOException {
        int length = 0;
        List<byte[]> used = new ArrayList<>(chunks.size());
        try {
            for (byte[] chunk : chunks) {
                if (length == max) break;
                int fromHead = Math.max(0, Math.min(head.length - length, chunk.length));
                if (fromHead > 0) System.arraycopy(head, length, chunk, 0, fromHead);
                int want = Math.min(chunk.length, max - length) - fromHead;
                int n = want > 0 ? in.readNBytes(chunk, fromHead, want) : 0;
                if (fromHead + n > 0) used.add(chunk);
                length += fromHead + n;
                if (n < want) break; // the source ended
            }
        } catch (IOException | RuntimeException e) {
            pool.give(chunks);
            throw e;
        }
        for (byte[] spare : chunks.subList(used.size(), chunks.size())) pool.give(spare);
        return new PooledPart(pool, used, length);
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public synchronized InputStream open() {
        if (chunks == null) throw new IllegalStateException("part already given back to the pool");
        List<InputStream> pieces = new ArrayList<>(chunks.size());
        for (int i = 0; i < chunks.size(); i++) {
            pieces.add(new ByteArrayInputStream(chunks.get(i), 0, Math.min(ChunkPool.CHUNK, length - i * ChunkPool.CHUNK)));
        }
        return new SequenceInputStream(Collections.enumeration(pieces));
    }

    @Override
    public synchronized void release() {
        if (chunks == null) return;
        pool.give(chunks);
        chunks = null;
    }
}
