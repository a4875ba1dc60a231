package io.pgwarden.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PartSizesTest {
    private static final long MIB = 1L << 20;

    /** A fixed 16 MiB part held 156 GiB in 10,000 parts: a bigger backup failed at part 10,001. */
    @Test
    void tenThousandPartsReachTheLargestObjectS3TakesFromAnyAllowedPartSize() {
        for (long base : new long[] {5 * MIB, 16 * MIB, 64 * MIB, 1024 * MIB, PartSizes.MAX_PART}) {
            PartSizes sizes = PartSizes.of(base);
            assertTrue(sizes.maxObjectBytes() >= PartSizes.MAX_OBJECT, "partSize " + base + " holds only " + sizes.maxObjectBytes());
            for (int n = 1; n <= PartSizes.MAX_PARTS; n++) {
                assertTrue(sizes.sizeOf(n) <= PartSizes.MAX_PART, "part " + n + " of partSize " + base + " exceeds 5 GiB");
                assertTrue(sizes.sizeOf(n) >= sizes.sizeOf(Math.max(1, n - 1)), "part sizes never shrink");
            }
        }
    }

    @Test
    void theFirstPartsKeepTheConfiguredSizeSoSmallerObjectsNeverLeaveMemory() {
        PartSizes sizes = PartSizes.of(16 * MIB);
        assertEquals(16 * MIB, sizes.sizeOf(1));
        assertEquals(16 * MIB, sizes.sizeOf(900));
        assertEquals(32 * MIB, sizes.sizeOf(901));
        assertEquals(64 * MIB, sizes.sizeOf(1801));
        assertEquals(PartSizes.MAX_PART, sizes.sizeOf(PartSizes.MAX_PARTS));
    }

    @Test
    void partNumbersOutsideWhatS3AcceptsAreRefused() {
        PartSizes sizes = PartSizes.of(16 * MIB);
        assertThrows(IllegalArgumentException.class, () -> sizes.sizeOf(0));
        assertThrows(IllegalArgumentException.class, () -> sizes.sizeOf(PartSizes.MAX_PARTS + 1));
    }
}
