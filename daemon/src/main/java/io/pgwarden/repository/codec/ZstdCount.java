package io.pgwarden.repository.codec;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Decodes zstd handed to it chunk by chunk, on the caller's thread, and keeps only what the decoded bytes amount to:
 * their count and the first few. For bytes stored as they came compressed (PostgreSQL compressed a base backup): the
 * count is the raw size the manifest records, the head holds backup_label, and decoding proves them well-formed.
 * Two fixed native buffers: nothing is allocated per chunk.
 */
public final class ZstdCount implements AutoCloseable {
    private static final int SRC = 1 << 20;
    private static final int DST = 1 << 18;

    private final ZstdDecompressCtx ctx = new ZstdDecompressCtx();
    private final ByteBuffer src = ByteBuffer.allocateDirect(SRC);
    private final ByteBuffer dst = ByteBuffer.allocateDirect(DST);
    private final int keep;
    private final ByteArrayOutputStream head = new ByteArrayOutputStream();
    private long count;
    private long consumed;
    /** The last frame begun has ended: true also before any input (an empty stream is rejected by {@link #finish}). */
    private boolean frameEnded = true;
    private final TarEnd tar = new TarEnd();

    /** @param keep how many decoded bytes from the start to keep */
    public ZstdCount(int keep) {
        this.keep = keep;
    }

    public void update(byte[] b, int off, int len) throws IOException {
        for (int at = off; at < off + len; ) {
            int n = Math.min(SRC, off + len - at);
            src.clear();
            src.put(b, at, n).flip();
            at += n;
            int produced;
            do {
                dst.clear();
                int before = src.position();
                boolean ended;
                try {
                    ended = ctx.decompressDirectByteBufferStream(dst, src);
                } catch (ZstdException e) {
                    throw new IOException("not valid zstd after " + (consumed + src.position()) + " bytes: " + e.getMessage(), e);
                }
                if (ended) frameEnded = true;
                else if (src.position() > before) frameEnded = false;
                produced = dst.position();
                count += produced;
                tar.update(dst, 0, produced);
                if (head.size() < keep && produced > 0) {
                    byte[] first = new byte[Math.min(produced, keep - head.size())];
                    dst.flip().get(first);
                    head.writeBytes(first);
                }
            } while (src.hasRemaining() || produced == DST);
            consumed += n;
        }
    }

    /**
     * Whether what came so far is a whole tar: the last frame has ended and the decoded bytes end with the tar's end
     * (two zero blocks where a header is due). PostgreSQL ends its one frame at the archive's end: nothing follows.
     */
    public boolean archiveEnded() {
        return consumed > 0 && frameEnded && tar.ended();
    }

    /** The decoded size; throws if the input ended inside a frame, or there was none. */
    public long finish() throws IOException {
        if (consumed == 0) throw new IOException("no zstd frame at all");
        if (!frameEnded) throw new IOException("truncated: the last zstd frame does not end (" + consumed + " bytes read)");
        return count;
    }

    public byte[] head() {
        return head.toByteArray();
    }

    @Override
    public void close() {
        ctx.close();
    }
}
