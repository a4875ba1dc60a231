package io.pgwarden.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ChunkPoolTest {
    @Test
    void aTakerWaitsForEveryChunkItAsksAndQueuedTakersAreNotOvertaken() throws Exception {
        ChunkPool pool = new ChunkPool(4L * ChunkPool.CHUNK);
        List<byte[]> three = pool.take(3);
        CompletableFuture<List<byte[]>> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return pool.take(2);
            } catch (java.io.InterruptedIOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Thread.sleep(200);
        assertThat(waiting).isNotDone();
        // One chunk is free, but a queued taker wants two: a non-waiting caller (a spill buffer) gets none.
        assertThat(pool.tryTake()).isNull();
        pool.give(three.getFirst());
        assertThat(waiting.get(10, TimeUnit.SECONDS)).hasSize(2).allSatisfy(c -> assertThat(c).hasSize(ChunkPool.CHUNK));
        assertThat(pool.chunksInUse()).isEqualTo(4);
        pool.give(three.subList(1, 3));
        pool.give(waiting.get());
        assertThat(pool.chunksInUse()).isZero();
        assertThat(pool.tryTake(4)).hasSize(4);
    }

    @Test
    void countsTheChunksOfAPartRoundingUp() {
        assertThat(new ChunkPool(ChunkPool.MIN_BYTES).capacityBytes()).isEqualTo(32L << 20);
        assertThat(ChunkPool.chunksFor(5L << 20)).isEqualTo(5);
        assertThat(ChunkPool.chunksFor((5L << 20) + 1)).isEqualTo(6);
    }
}
