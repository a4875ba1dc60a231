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
