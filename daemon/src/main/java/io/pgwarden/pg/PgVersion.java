package io.pgwarden.pg;

import java.util.Map;
import java.util.TreeMap;

/** PostgreSQL major versions pgwarden understands, and how to recognise them from WAL. */
final class PgVersion {
    // XLOG_PAGE_MAGIC per major version (src/include/access/xlog_internal.h).
    private static final Map<Integer, Integer> MAGIC_TO_MAJOR = new TreeMap<>(Map.of(
            0xD106, 13, 0xD10D, 14, 0xD110, 15, 0xD113, 16, 0xD116, 17));

    private PgVersion() {
    }

    /** The major version that writes this magic, or 0 if unknown. */
    public static int majorForWalMagic(int magic) {
        return MAGIC_TO_MAJOR.getOrDefault(magic, 0);
    }

    public static String supportedMajors() {
        return "13-17";
    }
}
