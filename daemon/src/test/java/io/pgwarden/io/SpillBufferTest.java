package io.pgwarden.io;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.storage.ChunkPool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpillBufferTest {
    @TempDir
    Path dir;

    @Test
    void keepsSmallContentInPooledMemoryAndGivesItBack() throws Exception {
        ChunkPool pool = new ChunkPool(4 * ChunkPool.CHUNK);
        byte[] data = random(ChunkPool.CHUNK + 10);
        SpillBuffer buffer = new SpillBuffer(pool, 8L << 20, dir, "t");
        buffer.write(data);
        assertThat(pool.chunksInUse()).isEqualTo(2);
        assertThat(buffer.open().readAllBytes()).isEqualTo(data);
        assertThat(spoolFiles()).isZero();
        buffer.discard();
        assertThat(pool.chunksInUse()).isZero();
    }

    /** Under memory pressure (the pool is empty) a push goes to disk at once instead of waiting or taking more heap. */
    @Test
    void spillsToDiskWhenThePoolHasNoChunkFree() throws Exception {
        ChunkPool pool = new ChunkPool(2 * ChunkPool.CHUNK);
        byte[] held = pool.tryTake();
        byte[] data = random(3 * ChunkPool.CHUNK);
        SpillBuffer buffer = new SpillBuffer(pool, 8L << 20, dir, "t");
        buffer.write(data, 0, 1000);
        assertThat(pool.chunksInUse()).isEqualTo(2);
        buffer.write(data, 1000, data.length - 1000);
        assertThat(pool.chunksInUse()).as("its chunk went back when it spilled").isEqualTo(1);
        assertThat(spoolFiles()).isEqualTo(1);
        assertThat(buffer.length()).isEqualTo(data.length);
        assertThat(buffer.open().readAllBytes()).isEqualTo(data);
        buffer.discard();
        assertThat(spoolFiles()).isZero();
        pool.give(held);
        assertThat(pool.chunksInUse()).isZero();
    }

    private long spoolFiles() throws Exception {
        try (var files = Files.list(dir)) {
            return files.count();
        }
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(7).nextBytes(b);
        return b;
    }

    /** After a kill: this owner's spool files and pg_basebackup directories go at the next start, nobody else's. */
    @Test
    void leftoversOfTheOwnerGoFilesAndDirectoriesAlikeAndOthersStay() throws Exception {
        Path spool = Files.createDirectories(dir.resolve("leftovers"));
        Files.write(spool.resolve("pgwarden-spool-a-part-1.tmp"), new byte[10]);
        Path run = Files.createDirectories(spool.resolve("pgwarden-spool-a-base-backup-0f.dir").resolve("backup"));
        Files.write(run.resolve("base.tar.zst"), new byte[10]);
        Path other = Files.createDirectories(spool.resolve("pgwarden-spool-ab-base-backup-1f.dir"));
        Path unrelated = Files.write(spool.resolve("notes.txt"), new byte[1]);

        assertThat(SpillBuffer.removeLeftovers(spool, "a")).isEqualTo(2);
        try (var left = Files.list(spool)) {
            assertThat(left.toList()).containsExactlyInAnyOrder(other, unrelated);
        }
    }
}
