package io.pgwarden.it.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgwarden.config.S3Config;
import io.pgwarden.config.Secret;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.storage.ChunkPool;
import io.pgwarden.storage.S3Storage;
import io.pgwarden.storage.StorageDriver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A backup or dump read whole from S3 (getWhole) comes as byte ranges fetched several at once, byte for byte the
 * object; an object replaced or removed while it is read fails the read naming it, and nothing is skipped. Against
 * S3Proxy, which counts the GETs it answers; its GETs are slowed (a latency injector: loopback has none) so that
 * ranges in flight together overlap there.
 */
class RangedDownloadTest {
    private static final int RANGE = 4 << 20;

    S3Server s3;

    @BeforeEach
    void start() throws Exception {
        s3 = new S3Server().start();
        s3.createBucket("ranged");
    }

    @AfterEach
    void stop() throws Exception {
        s3.close();
    }

    private S3Storage storage(int downloadStreams) {
        return new S3Storage(new S3Config(Optional.of(s3.endpoint()), "ranged", "r/", "us-east-1", true,
                Optional.of(new Secret(S3Server.ACCESS_KEY)), Optional.of(new Secret(S3Server.SECRET_KEY)), 2, 16L << 20,
                Duration.ofSeconds(30), Optional.empty(), Optional.empty(), downloadStreams), new ChunkPool(32L << 20));
    }

    private static byte[] random(int length, long seed) {
        byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    @Test
    void aLargeObjectComesAsRangesSeveralAtOnceByteForByte() throws Exception {
        byte[] content = random(6 * RANGE + 777, 1);
        try (S3Storage storage = storage(4)) {
            storage.put("big", new ByteArrayInputStream(content), Map.of("k", "v"));
            s3.slowGets(Duration.ofMillis(300), 0);
            try (var object = storage.getWhole("big").orElseThrow()) {
                assertThat(object.info().size()).isEqualTo(content.length);
                assertThat(object.info().metadata()).containsEntry("k", "v");
                assertThat(object.content().readAllBytes()).isEqualTo(content);
            }
        }
        assertThat(s3.rangedGets()).as("one GET per range of 4 MiB").isEqualTo(7);
        assertThat(s3.mostRangedGetsAtOnce()).as("ranges in flight at once").isBetween(2, 4);
    }

    @Test
    void withOneStreamItIsOneGetAndSmallOrEmptyObjectsCostOneGetEach() throws Exception {
        byte[] big = random(2 * RANGE + 5, 2);
        byte[] small = random(1000, 3);
        try (S3Storage one = storage(1); S3Storage four = storage(4)) {
            one.put("big", new ByteArrayInputStream(big), Map.of());
            one.put("small", new ByteArrayInputStream(small), Map.of());
            one.put("empty", new ByteArrayInputStream(new byte[0]), Map.of());
            try (var object = one.getWhole("big").orElseThrow()) {
                assertThat(object.content().readAllBytes()).isEqualTo(big);
            }
            assertThat(s3.rangedGets()).isZero();
            try (var object = four.getWhole("small").orElseThrow()) {
                assertThat(object.info().size()).isEqualTo(small.length);
                assertThat(object.content().readAllBytes()).isEqualTo(small);
            }
            assertThat(s3.rangedGets()).as("a small object is one ranged GET").isEqualTo(1);
            try (var object = four.getWhole("empty").orElseThrow()) {
                assertThat(object.info().size()).isZero();
                assertThat(object.content().readAllBytes()).isEmpty();
            }
            assertThat(four.getWhole("missing")).isEmpty();
        }
        assertThat(s3.mostRangedGetsAtOnce()).isEqualTo(1);
    }

    @Test
    void anObjectReplacedWhileItIsReadFailsTheReadInsteadOfSplicingTwoObjects() throws Exception {
        byte[] content = random(8 * RANGE, 4);
        try (S3Storage storage = storage(2)) {
            storage.put("big", new ByteArrayInputStream(content), Map.of());
            try (var object = storage.getWhole("big").orElseThrow()) {
                InputStream in = object.content();
                assertThat(in.readNBytes(RANGE)).isEqualTo(java.util.Arrays.copyOf(content, RANGE));
                storage.put("big", new ByteArrayInputStream(random(content.length, 5)), Map.of());
                assertThatThrownBy(in::readAllBytes).isInstanceOf(IOException.class)
                        .hasMessageContaining("s3://ranged/r/big").hasMessageContaining("replaced while it was read");
            }
        }
    }

    @Test
    void anObjectRemovedWhileItIsReadFailsTheReadNamingTheRangeAndNothingIsSkipped() throws Exception {
        byte[] content = random(8 * RANGE, 6);
        try (S3Storage storage = storage(2)) {
            storage.put("big", new ByteArrayInputStream(content), Map.of());
            try (var object = storage.getWhole("big").orElseThrow()) {
                InputStream in = object.content();
                var read = new java.io.ByteArrayOutputStream();
                read.write(in.readNBytes(2 * RANGE));
                storage.delete("big");
                byte[] chunk = new byte[64 << 10];
                IOException failure = null;
                try {
                    for (int n; (n = in.read(chunk)) >= 0; ) read.write(chunk, 0, n);
                } catch (IOException e) {
                    failure = e;
                }
                // What came before the failure is the object's own first bytes, whole ranges of them; the failure
                // names the first range that could not be read.
                byte[] got = read.toByteArray();
                assertThat(failure).as("the read after the delete fails").isNotNull();
                assertThat(got.length % RANGE).isZero();
                assertThat(got.length).isBetween(2 * RANGE, 4 * RANGE);
                assertThat(got).isEqualTo(java.util.Arrays.copyOf(content, got.length));
                assertThat(failure).hasMessageContaining("s3://ranged/r/big")
                        .hasMessageContaining("cannot read bytes " + got.length + "-" + (got.length + RANGE - 1));
            }
        }
    }

    /**
     * A server whose answers misstate their ranges: a size larger than any object is refused before a range is
     * planned by it, a part answered without its Content-Range is not taken for the whole object, and a later range
     * said to start elsewhere than asked fails the read naming it.
     */
    @Test
    void rangesAnsweredForOtherBytesThanAskedFailTheRead() throws Exception {
        byte[] content = random(3 * RANGE, 7);
        try (S3Storage storage = storage(4)) {
            storage.put("big", new ByteArrayInputStream(content), Map.of());
            s3.answersContentRange(range -> range.replaceFirst("/\\d+$", "/" + (6L << 40)));
            assertThatThrownBy(() -> storage.getWhole("big")).isInstanceOf(io.pgwarden.error.PgwardenException.class)
                    .hasMessageContaining("s3://ranged/r/big").hasMessageContaining("larger than any object may be");
            // A part of the object answered without saying which (no Content-Range): read with one plain GET instead.
            s3.answersContentRange(range -> null);
            try (var object = storage.getWhole("big").orElseThrow()) {
                assertThat(object.info().size()).isEqualTo(content.length);
                assertThat(object.content().readAllBytes()).isEqualTo(content);
            }
            s3.answersContentRange(range -> range.startsWith("bytes 0-") ? range : range.replaceFirst("^bytes \\d+-", "bytes 0-"));
            try (var object = storage.getWhole("big").orElseThrow()) {
                assertThatThrownBy(() -> object.content().readAllBytes()).isInstanceOf(IOException.class)
                        .hasMessageContaining("cannot read bytes " + RANGE + "-" + (2 * RANGE - 1))
                        .hasMessageContaining("when asked for bytes " + RANGE + "-" + (2 * RANGE - 1));
            }
        }
    }
}
