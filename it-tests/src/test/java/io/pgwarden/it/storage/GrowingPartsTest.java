package io.pgwarden.it.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgwarden.config.S3Config;
import io.pgwarden.config.Secret;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.storage.ChunkPool;
import io.pgwarden.storage.PartSizes;
import io.pgwarden.storage.S3Storage;
import io.pgwarden.storage.StagingDir;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Objects larger than S3's 10,000 parts of the configured size (a base backup beyond 156 GiB compressed with 16 MiB
 * parts) need larger parts later in the upload, and those do not fit in the upload memory: they are staged on disk.
 * The schedule here doubles every part (instead of every 900) so that a 38 MiB object shows it on a real S3 server.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GrowingPartsTest {
    private static final long PART = 5L << 20;

    Path dir;
    S3Server s3;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-parts-");
        s3 = new S3Server().start();
        s3.createBucket("parts");
    }

    @AfterAll
    void stop() throws Exception {
        s3.stop();
        TestDirs.delete(dir);
    }

    @Test
    void partsLargerThanTheUploadMemoryAreStagedOnDiskAndTheObjectRoundTrips() throws Exception {
        Path staging = dir.resolve("staging");
        ChunkPool memory = new ChunkPool(PART); // one part of the configured size, no more
        byte[] data = random((int) (5 + 10 + 20 + 3) * (1 << 20)); // parts of 5, 10 and 20 MiB, then 3
        List<String> seenWhileUploading = new ArrayList<>();
        InputStream source = new FilterInputStream(new ByteArrayInputStream(data)) {
            long read;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                read += Math.max(n, 0);
                if (read > (30L << 20) && seenWhileUploading.isEmpty()) seenWhileUploading.addAll(names(staging));
                return n;
            }
        };
        try (S3Storage storage = storage(memory, new StagingDir(staging, "it"))) {
            storage.put("big/base.tar.zst", source, Map.of("sha256", "x"));
            try (var object = storage.get("big/base.tar.zst").orElseThrow()) {
                assertThat(object.content().readAllBytes()).isEqualTo(data);
            }
        }
        try (var s3Client = s3.client()) {
            // A multipart ETag ends with its number of parts.
            assertThat(s3Client.headObject(b -> b.bucket("parts").key("p/big/base.tar.zst")).eTag()).endsWith("-4\"");
        }
        assertThat(seenWhileUploading).as("a staged part while the 20 MiB part was read")
                .anySatisfy(name -> assertThat(name).startsWith("pgwarden-spool-it-part-").endsWith(".tmp"));
        assertThat(names(staging)).as("staged parts left behind").isEmpty();
        assertThat(memory.chunksInUse()).isZero();
    }

    @Test
    void aStagingDirectoryThatCannotBeWrittenFailsTheUploadNamingItAndLeavesNoObject() throws Exception {
        Path notADirectory = Files.writeString(dir.resolve("a-file"), "x");
        ChunkPool memory = new ChunkPool(PART);
        try (S3Storage storage = storage(memory, new StagingDir(notADirectory, "it"))) {
            assertThatThrownBy(() -> storage.put("big/failed.tar.zst", new ByteArrayInputStream(random(12 << 20)), Map.of()))
                    .isInstanceOf(PgwardenException.class)
                    .hasMessageContaining("big/failed.tar.zst")
                    .hasMessageContaining("cannot stage an upload part in '" + notADirectory + "'");
            assertThat(storage.stat("big/failed.tar.zst")).isEmpty();
            try (var uploads = storage.incompleteUploads("big/")) {
                assertThat(uploads).as("multipart uploads left open").isEmpty();
            }
        }
        assertThat(memory.chunksInUse()).isZero();
    }

    private S3Storage storage(ChunkPool memory, StagingDir staging) {
        S3Config config = new S3Config(Optional.of(s3.endpoint()), "parts", "p/", "us-east-1", true,
                Optional.of(new Secret(S3Server.ACCESS_KEY)), Optional.of(new Secret(S3Server.SECRET_KEY)), 2, PART,
                Duration.ofSeconds(30), Optional.empty(), Optional.empty(), S3Config.DEFAULT_DOWNLOAD_STREAMS);
        return new S3Storage(config, memory, staging, new PartSizes(PART, 1));
    }

    private static List<String> names(Path staging) {
        if (!Files.isDirectory(staging)) return List.of();
        try (Stream<Path> files = Files.list(staging)) {
            return files.map(f -> f.getFileName().toString()).toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }
}
