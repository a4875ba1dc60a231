package io.pgwarden.pg;

import io.pgwarden.error.PgwardenException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The long page header at the start of every WAL segment (XLogLongPageHeaderData, access/xlog_internal.h):
 * magic u16, info u16, tli u32, pageaddr u64, rem_len u32, pad, sysid u64 @24, seg_size u32 @32, xlog_blcksz u32 @36.
 * Written in the server's byte order; we support little-endian servers (x86_64, arm64).
 */
public record WalSegmentHeader(int magic, int pgMajor, long pageAddress, long systemIdentifier, long segmentSize, int blockSize) {

    public static final int LENGTH = 40;
    private static final int XLP_LONG_HEADER = 0x0002;
    public static final long MIN_SEGMENT_SIZE = 1L << 20;
    public static final long MAX_SEGMENT_SIZE = 1L << 30;

    public static WalSegmentHeader parse(byte[] bytes, String fileName) {
        if (bytes.length < LENGTH) {
            throw PgwardenException.badRequest("WAL file '" + fileName + "' is too short for a segment header (" + bytes.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int magic = Short.toUnsignedInt(b.getShort(0));
        int info = Short.toUnsignedInt(b.getShort(2));
        int major = PgVersion.majorForWalMagic(magic);
        if (major == 0) {
            throw PgwardenException.badRequest("WAL file '%s' has an unknown page header magic 0x%04X (supported: PostgreSQL %s)"
                    .formatted(fileName, magic, PgVersion.supportedMajors()));
        }
        if ((info & XLP_LONG_HEADER) == 0) {
            throw PgwardenException.badRequest("WAL file '" + fileName + "' does not start with a long page header");
        }
        long segSize = Integer.toUnsignedLong(b.getInt(32));
        if (Long.bitCount(segSize) != 1 || segSize < MIN_SEGMENT_SIZE || segSize > MAX_SEGMENT_SIZE) {
            throw PgwardenException.badRequest("WAL file '" + fileName + "' names an invalid segment size " + segSize);
        }
        return new WalSegmentHeader(magic, major, b.getLong(8), b.getLong(24), segSize, b.getInt(36));
    }

    /** The first page of segment N starts at LSN N * segment size; anything else was pushed under a wrong name. */
    public void checkMatches(WalFileName name) {
        long expected = name.segmentNumber(segmentSize) * segmentSize;
        if (pageAddress != expected) {
            throw PgwardenException.badRequest("WAL file '%s' starts at LSN %s, but its name says %s"
                    .formatted(name.name(), Lsn.format(pageAddress), Lsn.format(expected)));
        }
    }
}
