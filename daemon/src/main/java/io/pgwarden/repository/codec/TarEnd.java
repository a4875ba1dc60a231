package io.pgwarden.repository.codec;

import java.nio.ByteBuffer;

/**
 * Follows a tar stream's headers, skipping member contents by their sizes, to tell where the archive ends: two zero
 * blocks where a header is due. Zero blocks inside a member's contents do not count. A header whose size field
 * does not parse stops the watch: such a stream never "ends" here (its end is then left to the writer's exit).
 */
final class TarEnd {
    private static final int BLOCK = 512;
    /** Larger than any file PostgreSQL has (1 GiB segments); beyond it the arithmetic below could overflow. */
    private static final long MAX_MEMBER = 1L << 50;

    private final byte[] header = new byte[BLOCK];
    private int filled;
    private long position;
    private long nextHeader;
    private int zeroBlocks;
    private boolean lost;

    /** The next {@code length} decoded bytes, read from {@code bytes} at absolute index {@code from}. */
    void update(ByteBuffer bytes, int from, int length) {
        int at = from;
        int end = from + length;
        while (at < end && !lost) {
            if (position < nextHeader) {
                int skip = (int) Math.min(end - at, nextHeader - position);
                at += skip;
                position += skip;
                continue;
            }
            int take = Math.min(BLOCK - filled, end - at);
            bytes.get(at, header, filled, take);
            at += take;
            position += take;
            filled += take;
            if (filled == BLOCK) {
                filled = 0;
                headerComplete();
            }
        }
        if (lost) position += end - at;
    }

    /** True when the bytes so far end with the archive's end (and nothing but zero blocks after it). */
    boolean ended() {
        return !lost && zeroBlocks >= 2 && filled == 0;
    }

    private void headerComplete() {
        if (allZero()) {
            zeroBlocks++;
            nextHeader = position;
            return;
        }
        zeroBlocks = 0;
        long size = size();
        if (size < 0 || size > MAX_MEMBER) {
            lost = true;
            return;
        }
        nextHeader = position + (size + BLOCK - 1) / BLOCK * BLOCK;
    }

    private boolean allZero() {
        for (byte b : header) if (b != 0) return false;
        return true;
    }

    /** The size field (offset 124, 12 bytes): octal digits, or base-256 when its first bit is set; -1 if neither. */
    private long size() {
        if ((header[124] & 0x80) != 0) {
            long size = header[124] & 0x7f;
            for (int i = 125; i < 136; i++) {
                if (size > (Long.MAX_VALUE >> 8)) return -1;
                size = (size << 8) | (header[i] & 0xff);
            }
            return size;
        }
        long size = 0;
        int i = 124;
        while (i < 136 && header[i] == ' ') i++;
        int digits = 0;
        for (; i < 136 && header[i] >= '0' && header[i] <= '7'; i++, digits++) size = size * 8 + (header[i] - '0');
        if (digits == 0 || (i < 136 && header[i] != 0 && header[i] != ' ')) return -1;
        return size;
    }
}
