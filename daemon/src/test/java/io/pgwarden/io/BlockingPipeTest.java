package io.pgwarden.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class BlockingPipeTest {
    private static final int MIB = 1 << 20;

    /** A restore's two pipes of 64 one-MiB chunks each filled a 128 MiB heap behind a slow sidecar: bytes bound it now. */
    @Test
    void aReaderThatFallsBehindHoldsUpTheProducerAfterAFewMebibytesWhateverTheChunkSize() throws Exception {
        BlockingPipe pipe = new BlockingPipe();
        AtomicLong written = new AtomicLong();
        CompletableFuture<Void> producer = pipe.feedFrom(out -> {
            byte[] mib = new byte[MIB];
            for (int i = 0; i < 200; i++) {
                out.write(mib);
                written.addAndGet(MIB);
            }
        }, MIB, "test-producer");
        long before;
        do { // until the producer has stalled
            before = written.get();
            Thread.sleep(300);
        } while (written.get() != before);
        assertTrue(written.get() <= BlockingPipe.CAPACITY + 2L * MIB,
                "the producer ran " + written.get() / MIB + " MiB ahead of a reader that read nothing");

        // The reader catches up: everything arrives, in order, and the producer finishes.
        long read = pipe.transferTo(OutputStream.nullOutputStream());
        producer.get(10, TimeUnit.SECONDS);
        assertEquals(200L * MIB, read);
    }

    @Test
    void whatIsWrittenIsReadInOrderAndAnErrorEndsTheReadWithIt() throws Exception {
        byte[] data = new byte[5 * MIB + 12345];
        new Random(7).nextBytes(data);
        BlockingPipe pipe = new BlockingPipe();
        pipe.feedFrom(out -> {
            for (int off = 0; off < data.length; off += 70001) out.write(data, off, Math.min(70001, data.length - off));
        }, 256 << 10, "test-producer");
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        pipe.transferTo(got);
        assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(data), MessageDigest.getInstance("SHA-256").digest(got.toByteArray()));

        BlockingPipe failing = new BlockingPipe();
        failing.feedFrom(out -> {
            out.write(new byte[3 * MIB]);
            throw new IOException("object 'x' is corrupt");
        }, MIB, "test-producer");
        IOException e = assertThrows(IOException.class, () -> failing.transferTo(OutputStream.nullOutputStream()));
        assertEquals("object 'x' is corrupt", e.getMessage());
    }

    @Test
    void aProducerBlockedOnAFullPipeStopsWhenTheReaderCloses() throws Exception {
        BlockingPipe pipe = new BlockingPipe();
        CompletableFuture<Void> producer = pipe.feedFrom(out -> {
            while (true) out.write(new byte[MIB]);
        }, MIB, "test-producer");
        Thread.sleep(300);
        pipe.close();
        var failed = assertThrows(java.util.concurrent.ExecutionException.class, () -> producer.get(5, TimeUnit.SECONDS));
        assertTrue(failed.getCause().getMessage().contains("gone away"), failed.getCause().toString());
    }
}
