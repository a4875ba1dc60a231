package io.pgwarden.repository.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ZstdCountTest {
    /** Two frames written by two workers, as PostgreSQL's zstd writes them, handed over in odd chunk sizes. */
    @Test
    void countsEveryDecodedByteOfConcatenatedFramesAndKeepsTheHead() throws Exception {
        byte[] raw = new byte[3_000_000];
        new Random(3).nextBytes(raw);
        Arrays.fill(raw, 1_000_000, 2_500_000, (byte) 'x'); // compresses far: one input chunk decodes to many output buffers
        byte[] stored = concat(compress(raw, 0, 2_000_000, 2), compress(raw, 2_000_000, 1_000_000, 0));
        try (ZstdCount count = new ZstdCount(1000)) {
            for (int at = 0; at < stored.length; at += 77_777) count.update(stored, at, Math.min(77_777, stored.length - at));
            assertThat(count.finish()).isEqualTo(raw.length);
            assertThat(count.head()).isEqualTo(Arrays.copyOf(raw, 1000));
        }
    }

    @Test
    void aTruncatedStreamGarbageAndNothingAtAllAreRefused() throws Exception {
        byte[] stored = compress(new byte[100_000], 0, 100_000, 0);
        try (ZstdCount count = new ZstdCount(10)) {
            count.update(stored, 0, stored.length - 3);
            assertThatThrownBy(count::finish).hasMessageContaining("truncated");
        }
        try (ZstdCount count = new ZstdCount(10)) {
            assertThatThrownBy(() -> count.update("not zstd at all".getBytes(), 0, 15)).isInstanceOf(IOException.class)
                    .hasMessageContaining("not valid zstd");
        }
        try (ZstdCount count = new ZstdCount(10)) {
            assertThatThrownBy(count::finish).hasMessageContaining("no zstd frame");
        }
    }

    /**
     * A tar's end is two zero blocks where a header is due, in a frame that has ended: zero blocks inside a member do
     * not count, nor does a frame that ends between members, nor a tar cut short.
     */
    @Test
    void aWholeTarIsToldFromOneCutShortOrEndingAFrameOnZeros() throws Exception {
        byte[] zeros = new byte[512 * 10];
        byte[] data = new byte[3000];
        new Random(5).nextBytes(data);
        byte[] firstMember = concat(header("base/1/empty", zeros.length, false), zeros);
        byte[] tar = concat(concat(firstMember, concat(header("base/1/data", data.length, true), data)), new byte[(512 - 3000 % 512) + 1024]);
        byte[] stored = compress(tar, 0, tar.length, 0);
        try (ZstdCount count = new ZstdCount(0)) {
            for (int at = 0; at < stored.length; at += 1000) {
                count.update(stored, at, Math.min(1000, stored.length - at));
                assertThat(count.archiveEnded()).as("after %d of %d bytes", at, stored.length).isEqualTo(at + 1000 >= stored.length);
            }
            assertThat(count.finish()).isEqualTo(tar.length);
        }
        // Frames ending inside the zero member's contents, at its end, and the tar cut after its first end block.
        for (int len : new int[] {512 * 6, firstMember.length, tar.length - 512}) {
            byte[] frame = compress(tar, 0, len, 0);
            try (ZstdCount count = new ZstdCount(0)) {
                count.update(frame, 0, frame.length);
                assertThat(count.archiveEnded()).as("%d bytes", len).isFalse();
            }
        }
        // The same tar in two frames split in the zero member: its end is still told.
        byte[] twoFrames = concat(compress(tar, 0, 512 * 6, 0), compress(tar, 512 * 6, tar.length - 512 * 6, 0));
        try (ZstdCount count = new ZstdCount(0)) {
            count.update(twoFrames, 0, twoFrames.length);
            assertThat(count.archiveEnded()).isTrue();
        }
        // A header whose size does not parse: the stream is never taken for ended.
        byte[] bad = tar.clone();
        bad[124] = 'x';
        byte[] frame = compress(bad, 0, bad.length, 0);
        try (ZstdCount count = new ZstdCount(0)) {
            count.update(frame, 0, frame.length);
            assertThat(count.archiveEnded()).isFalse();
        }
    }

    /** A ustar header with the size in octal, or base-256 as GNU tar writes sizes over 8 GiB. */
    private static byte[] header(String name, long size, boolean base256) {
        byte[] h = new byte[512];
        System.arraycopy(name.getBytes(), 0, h, 0, name.length());
        if (base256) {
            h[124] = (byte) 0x80;
            for (int i = 135; i > 124; i--, size >>= 8) h[i] = (byte) size;
        } else {
            byte[] octal = String.format("%011o", size).getBytes();
            System.arraycopy(octal, 0, h, 124, 11);
        }
        h[156] = '0';
        return h;
    }

    private static byte[] compress(byte[] raw, int off, int len, int workers) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZstdOutputStream z = new ZstdOutputStream(out, 1)) {
            if (workers > 0) z.setWorkers(workers);
            z.write(raw, off, len);
        }
        return out.toByteArray();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] both = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        return both;
    }
}
