package io.pgwarden.pg;

/** Log sequence numbers in PostgreSQL's text form, e.g. 0/3000028. */
public final class Lsn {
    private Lsn() {
    }

    /** "0/3000028" → 0x3000028. */
    public static long parse(String text) {
        int slash = text.indexOf('/');
        if (slash < 1) throw new IllegalArgumentException("'" + text + "' is not an LSN (e.g. 0/3000028)");
        try {
            return (Long.parseLong(text.substring(0, slash), 16) << 32) | Long.parseLong(text.substring(slash + 1), 16);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not an LSN (e.g. 0/3000028)");
        }
    }

    /** The WAL file holding the byte just before lsn (where a backup's stop record ends). */
    public static String walFileBefore(int timeline, long lsn, long segmentSize) {
        return walFile(timeline, (lsn - 1) / segmentSize, segmentSize);
    }

    public static String walFile(int timeline, long segmentNumber, long segmentSize) {
        long perId = 0x1_0000_0000L / segmentSize;
        return "%08X%08X%08X".formatted(timeline, segmentNumber / perId, segmentNumber % perId);
    }

    public static String format(long lsn) {
        return "%X/%X".formatted(lsn >>> 32, lsn & 0xFFFF_FFFFL);
    }
}
