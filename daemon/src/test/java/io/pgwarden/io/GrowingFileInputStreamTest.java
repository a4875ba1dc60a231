package io.pgwarden.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real file written by another thread as it is read, as pg_basebackup writes base.tar.zst while the daemon reads it. */
class GrowingFileInputStreamTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void readsEveryByteOfAFileThatAppearsLateAndGrowsInBurstsThenEndsWithItsWriter() throws Exception {
        Path file = dir.resolve("base.tar.zst");
        byte[] content = new byte[5 * MIB + 123];
        new Random(7).nextBytes(content);
        AtomicBoolean ended = new AtomicBoolean();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                Thread.sleep(100); // the reader starts before the file exists
                try (OutputStream out = Files.newOutputStream(file)) {
                    for (int off = 0; off < content.length; off += 300_001) {
                        out.write(content, off, Math.min(300_001, content.length - off));
                        out.flush();
                        Thread.sleep(3);
                    }
                }
                Thread.sleep(50); // the reader has caught up and waits: only the writer's end ends the stream
                ended.set(true);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        ByteArrayOutputStream read = new ByteArrayOutputStream();
        try (GrowingFileInputStream in = new GrowingFileInputStream(file, ended::get, 0)) {
            in.transferTo(read);
            assertEquals(content.length, in.position());
        }
        writer.join();
        assertArrayEquals(content, read.toByteArray());
    }

    @Test
    void aWriterThatEndsWithoutWritingTheFileGivesAnEmptyStream() throws Exception {
        try (GrowingFileInputStream in = new GrowingFileInputStream(dir.resolve("never"), () -> true, 0)) {
            assertEquals(-1, in.read(new byte[10]));
        }
    }

    /** A sidecar's image writes the directory: a link there must not have the daemon read (and punch) a file of its choosing. */
    @Test
    void aSymbolicLinkInsteadOfTheFileOrItsDirectoryIsRefusedAndTheLinkedFileLeftWhole() throws Exception {
        Path precious = Files.write(dir.resolve("precious"), new byte[3 * MIB]);
        Files.createSymbolicLink(dir.resolve("base.tar.zst"), precious);
        try (GrowingFileInputStream in = new GrowingFileInputStream(dir.resolve("base.tar.zst"), () -> true, MIB)) {
            assertThrows(java.io.IOException.class, () -> in.read(new byte[MIB]));
        }
        Path real = Files.createDirectory(dir.resolve("real"));
        Files.write(real.resolve("base.tar.zst"), new byte[3 * MIB]);
        Files.createSymbolicLink(dir.resolve("backup"), real);
        try (GrowingFileInputStream in = new GrowingFileInputStream(dir.resolve("backup/base.tar.zst"), () -> true, MIB)) {
            assertThrows(java.io.IOException.class, () -> in.read(new byte[MIB]));
        }
        assertEquals(3L * MIB, allocated(precious));
        assertEquals(3L * MIB, allocated(real.resolve("base.tar.zst")));
    }

    /** A 100 GB backup must not need 100 GB of spool: what was read is punched out of the file as the reading goes on. */
    @Test
    void whatWasReadNoLongerTakesDiskSpace() throws Exception {
        Path file = dir.resolve("base.tar.zst");
        AtomicBoolean ended = new AtomicBoolean();
        AtomicLong maxAllocated = new AtomicLong();
        byte[] mib = new byte[MIB];
        new Random(1).nextBytes(mib);
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try (OutputStream out = Files.newOutputStream(file)) {
                for (int i = 0; i < 64; i++) {
                    out.write(mib);
                    out.flush();
                    if (i % 8 == 7) {
                        Thread.sleep(30);
                        maxAllocated.accumulateAndGet(allocated(file), Math::max);
                    }
                }
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
            ended.set(true);
        });
        long total = 0;
        try (GrowingFileInputStream in = new GrowingFileInputStream(file, ended::get, 4 * MIB)) {
            byte[] buf = new byte[64 << 10];
            int n;
            while ((n = in.read(buf)) > 0) total += n;
        }
        writer.join();
        assertEquals(64L * MIB, total);
        assertEquals(64L * MIB, Files.size(file), "the file keeps its size: the writer writes on at its own offset");
        long left = allocated(file);
        assertTrue(left <= 5L * MIB, "a 64 MiB file read to its end still takes " + left + " bytes of disk");
        assertTrue(maxAllocated.get() < 40L * MIB, "while read, the file took up to " + maxAllocated.get() + " bytes of disk");
    }

    private static long allocated(Path file) throws Exception {
        Process stat = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).start();
        String[] out = new String(stat.getInputStream().readAllBytes()).trim().split(" ");
        stat.waitFor();
        return Long.parseLong(out[0]) * Long.parseLong(out[1]);
    }
}
