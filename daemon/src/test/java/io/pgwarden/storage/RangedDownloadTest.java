package io.pgwarden.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The reader's bookkeeping with ranges that arrive out of order; against S3 in it-tests' storage.RangedDownloadTest. */
class RangedDownloadTest {
    private static final int RANGE = 1000;

    private static byte[] random(int length) {
        byte[] bytes = new byte[length];
        new Random(length).nextBytes(bytes);
        return bytes;
    }

    private static ByteArrayInputStream firstRange(byte[] content) {
        return new ByteArrayInputStream(content, 0, Math.min(RANGE, content.length));
    }

    @Test
    void rangesArrivingInAnyOrderAreReadInOrderWithAtMostStreamsInFlight() throws Exception {
        byte[] content = random(10 * RANGE + 17);
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        RangedDownload.RangeFetch fetch = (from, length, into) -> {
            most.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
            try {
                Thread.sleep(40 - from / RANGE * 3); // later ranges come back sooner
            } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException();
            }
            System.arraycopy(content, (int) from, into, 0, length);
            inFlight.decrementAndGet();
        };
        try (var in = new RangedDownload(firstRange(content), content.length, RANGE, 3, fetch, "'x'")) {
            var out = new java.io.ByteArrayOutputStream();
            byte[] odd = new byte[333];
            for (int n; (n = in.read(odd)) >= 0; ) out.write(odd, 0, n);
            assertThat(out.toByteArray()).isEqualTo(content);
            assertThat(in.read()).isEqualTo(-1);
        }
        assertThat(most.get()).isLessThanOrEqualTo(3);
    }

    @Test
    void aShortOrLongFirstRangeOrAFailedRangeFailsTheRead() {
        byte[] content = random(3 * RANGE);
        RangedDownload.RangeFetch fine = (from, length, into) -> System.arraycopy(content, (int) from, into, 0, length);
        var shortFirst = new RangedDownload(new ByteArrayInputStream(content, 0, RANGE - 1), content.length, RANGE, 2, fine, "'x'");
        assertThatThrownBy(shortFirst::readAllBytes).isInstanceOf(IOException.class).hasMessage("'x': the first range ended after 999 of 1000 bytes");
        var longFirst = new RangedDownload(new ByteArrayInputStream(content), content.length, RANGE, 2, fine, "'x'");
        assertThatThrownBy(longFirst::readAllBytes).isInstanceOf(IOException.class).hasMessageContaining("more than the 1000 bytes asked");
        RangedDownload.RangeFetch failing = (from, length, into) -> {
            if (from == 2 * RANGE) throw new IOException("S3 answered 500");
            System.arraycopy(content, (int) from, into, 0, length);
        };
        var failed = new RangedDownload(firstRange(content), content.length, RANGE, 2, failing, "'x'");
        byte[] got = new byte[2 * RANGE];
        assertThatThrownBy(() -> {
            int at = 0;
            for (int n; (n = failed.read(got, at, got.length - at)) > 0; ) at += n;
            assertThat(got).isEqualTo(Arrays.copyOf(content, 2 * RANGE));
            failed.read();
        }).isInstanceOf(IOException.class).hasMessage("'x': cannot read bytes 2000-2999: S3 answered 500");
    }

    @Test
    void closedItAsksForNoMoreRanges() throws Exception {
        byte[] content = random(20 * RANGE);
        AtomicInteger asked = new AtomicInteger();
        RangedDownload.RangeFetch fetch = (from, length, into) -> {
            asked.incrementAndGet();
            System.arraycopy(content, (int) from, into, 0, length);
        };
        var in = new RangedDownload(firstRange(content), content.length, RANGE, 4, fetch, "'x'");
        in.readNBytes(RANGE + 1);
        in.close();
        Thread.sleep(100);
        assertThat(asked.get()).as("the four after the range being read").isLessThanOrEqualTo(5);
        assertThatThrownBy(in::read).isInstanceOf(IOException.class).hasMessageContaining("after it was closed");
    }
}
