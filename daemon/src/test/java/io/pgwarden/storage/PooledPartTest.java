package io.pgwarden.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PooledPartTest {
    private static final int PART = 3 * ChunkPool.CHUNK;
    private final ChunkPool pool = new ChunkPool(2L * PART);

    @Test
    void readsTheHeadThenTheSourceUpToOnePartAndLeavesTheRest() throws Exception {
        byte[] data = random(PART + 5);
        InputStream in = new ByteArrayInputStream(data);
        byte[] head = in.readNBytes(ChunkPool.CHUNK);
        PooledPart part = PooledPart.read(pool, pool.take(3), head, in, PART);
        assertThat(part.length()).isEqualTo(PART);
        assertThat(part.open().readAllBytes()).isEqualTo(Arrays.copyOf(data, PART));
        assertThat(part.open().readAllBytes()).as("a retry reads it again").isEqualTo(Arrays.copyOf(data, PART));
        assertThat(in.readAllBytes()).hasSize(5);
        part.release();
        part.release();
        assertThat(pool.chunksInUse()).isZero();
    }

    /** A last part that needs fewer chunks than it was given hands the spare ones back at once. */
    @Test
    void aShortLastPartGivesItsSpareChunksBack() throws Exception {
        byte[] data = random(ChunkPool.CHUNK + 10);
        PooledPart part = PooledPart.read(pool, pool.take(3), new byte[0], new ByteArrayInputStream(data), PART);
        assertThat(part.length()).isEqualTo(data.length);
        assertThat(pool.chunksInUse()).isEqualTo(2);
        assertThat(part.open().readAllBytes()).isEqualTo(data);
        part.release();
        assertThat(pool.chunksInUse()).isZero();
    }

    /** A source that ends exactly at a part boundary leaves an empty next part, which holds no chunk. */
    @Test
    void aSourceEndingAtAPartBoundaryLeavesAnEmptyPart() throws Exception {
        PooledPart empty = PooledPart.read(pool, pool.take(3), new byte[0], new ByteArrayInputStream(new byte[0]), PART);
        assertThat(empty.length()).isZero();
        assertThat(pool.chunksInUse()).isZero();
        empty.release();
        assertThat(pool.chunksInUse()).isZero();
    }

    @Test
    void aSourceThatFailsGivesEveryChunkBack() {
        InputStream failing = new SequenceInputStream(new ByteArrayInputStream(random(ChunkPool.CHUNK + 1)), new InputStream() {
            @Override
            public int read() throws IOException {
                throw new IOException("source broke");
            }
        });
        assertThatThrownBy(() -> PooledPart.read(pool, pool.take(3), new byte[0], failing, PART)).hasMessage("source broke");
        assertThat(pool.chunksInUse()).isZero();
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }
}
