package io.pgwarden.storage;

/**
 * The size of each part of a multipart upload whose length is unknown when it starts (a base backup, a dump). S3 takes
 * at most 10,000 parts of at most 5 GiB: with a fixed 16 MiB part the largest object would be 156 GiB, and a bigger
 * cluster's backup would fail at part 10,001 after hours. So parts keep the configured size for the first
 * {@code partsPerStep} parts and double every {@code partsPerStep} parts after that (capped at 5 GiB): with the
 * defaults the first 14 GiB go in 16 MiB parts, and 10,000 parts of any allowed partSize reach S3's 5 TiB object limit.
 *
 * @param base         the configured part size (repository.s3.partSize)
 * @param partsPerStep how many parts keep one size before it doubles
 */
public record PartSizes(long base, int partsPerStep) {
    public static final int MAX_PARTS = 10_000;
    public static final long MAX_PART = 5L << 30;
    public static final long MAX_OBJECT = 5L << 40;
    static final int DEFAULT_PARTS_PER_STEP = 900;

    public PartSizes {
        if (base < 1 || base > MAX_PART) throw new IllegalArgumentException("part size " + base + " is outside 1 byte to 5 GiB");
        if (partsPerStep < 1) throw new IllegalArgumentException("partsPerStep must be positive");
    }

    public static PartSizes of(long base) {
        return new PartSizes(base, DEFAULT_PARTS_PER_STEP);
    }

    /** The size of part {@code number} (1-based); only the last part of an upload may be shorter. */
    public long sizeOf(int number) {
        if (number < 1 || number > MAX_PARTS) throw new IllegalArgumentException("part number " + number + " is outside 1 to " + MAX_PARTS);
        int doublings = Math.min(40, (number - 1) / partsPerStep);
        long size = base;
        for (int i = 0; i < doublings && size < MAX_PART; i++) size *= 2;
        return Math.min(size, MAX_PART);
    }

    /** The most one upload can hold: every part at its full size. */
    public long maxObjectBytes() {
        long total = 0;
        for (int n = 1; n <= MAX_PARTS; n++) total += sizeOf(n);
        return total;
    }
}
