package io.pgwarden.pg;

/**
 * PostgreSQL's data page checksum (storage/checksum_impl.h): 32 interleaved FNV-1a-like sums over the page read as
 * native-endian 32-bit words, with pd_checksum taken as zero, mixed with the block number, folded to 16 bits.
 * Pages are {@value #BLOCK} bytes (the default block_size).
 */
public final class PageChecksum {
    public static final int BLOCK = 8192;
    private static final int N_SUMS = 32;
    private static final int FNV_PRIME = 16777619;
    private static final int[] BASE_OFFSETS = {
            0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
            0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
            0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
            0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756};
    private static final java.lang.invoke.VarHandle INT = java.lang.invoke.MethodHandles.byteArrayViewVarHandle(int[].class,
            java.nio.ByteOrder.nativeOrder());
    private static final java.lang.invoke.VarHandle SHORT = java.lang.invoke.MethodHandles.byteArrayViewVarHandle(short[].class,
            java.nio.ByteOrder.nativeOrder());

    private PageChecksum() {
    }

    /** The checksum PostgreSQL stores in the page at {@code offset} of {@code page}, block {@code blockNumber} of its relation. */
    public static int compute(byte[] page, int offset, long blockNumber) {
        int[] sums = BASE_OFFSETS.clone();
        for (int i = 0; i < BLOCK / (4 * N_SUMS); i++) {
            int row = offset + i * 4 * N_SUMS;
            for (int j = 0; j < N_SUMS; j++) {
                int value = (int) INT.get(page, row + 4 * j);
                // pd_checksum (bytes 8-9) counts as zero: it lies in the third word of the first row.
                if (i == 0 && j == 2) value &= java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN ? 0xFFFF0000 : 0x0000FFFF;
                int tmp = sums[j] ^ value;
                sums[j] = tmp * FNV_PRIME ^ (tmp >>> 17);
            }
        }
        int result = 0;
        for (int j = 0; j < N_SUMS; j++) {
            for (int round = 0; round < 2; round++) {
                int tmp = sums[j];
                sums[j] = tmp * FNV_PRIME ^ (tmp >>> 17);
            }
            result ^= sums[j];
        }
        result ^= (int) blockNumber;
        return (int) (Integer.toUnsignedLong(result) % 65535) + 1;
    }

    /** pd_checksum as stored. */
    public static int stored(byte[] page, int offset) {
        return Short.toUnsignedInt((short) SHORT.get(page, offset + 8));
    }

    /** pd_lsn: the end of the last WAL record that changed the page. */
    public static long lsn(byte[] page, int offset) {
        long high = Integer.toUnsignedLong((int) INT.get(page, offset));
        long low = Integer.toUnsignedLong((int) INT.get(page, offset + 4));
        return high << 32 | low;
    }

    /** A page never initialised (pd_upper 0): PostgreSQL verifies no checksum on it. */
    public static boolean isNew(byte[] page, int offset) {
        return (short) SHORT.get(page, offset + 14) == 0;
    }

    /** True when the page holds the checksum PostgreSQL would compute for it (new pages always pass). */
    public static boolean verifies(byte[] page, int offset, long blockNumber) {
        return isNew(page, offset) || stored(page, offset) == compute(page, offset, blockNumber);
    }
}
