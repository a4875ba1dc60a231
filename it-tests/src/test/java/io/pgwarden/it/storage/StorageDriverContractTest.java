package io.pgwarden.it.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgwarden.config.S3Config;
import io.pgwarden.config.Secret;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.storage.ChunkPool;
import io.pgwarden.storage.FilesystemStorage;
import io.pgwarden.storage.S3Storage;
import io.pgwarden.storage.StorageDriver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * The driver contract on a real S3 server (S3Proxy) and a real directory. The S3 driver gets upload memory for exactly
 * one part, the least it may have, so every multipart upload here also shows it waits for memory rather than take more.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StorageDriverContractTest {
    private static final long PART = 5L << 20;
    private final ChunkPool buffers = new ChunkPool(PART);

    Path dir;
    S3Server s3;
    StorageDriver s3Storage;
    StorageDriver fsStorage;

    @BeforeAll
    void start() throws Exception {
        dir = io.pgwarden.it.support.TestDirs.create("pgwarden-contract-");
        s3 = new S3Server().start();
        s3.createBucket("contract");
        s3Storage = new S3Storage(new S3Config(Optional.of(s3.endpoint()), "contract", "pfx/", "us-east-1", true,
                Optional.of(new Secret(S3Server.ACCESS_KEY)), Optional.of(new Secret(S3Server.SECRET_KEY)), 2, PART, Duration.ofSeconds(30), Optional.empty(), Optional.empty(),
                S3Config.DEFAULT_DOWNLOAD_STREAMS), buffers);
        fsStorage = new FilesystemStorage(dir.resolve("repo"));
    }

    @AfterAll
    void stop() throws Exception {
        s3Storage.close();
        s3.close();
        io.pgwarden.it.support.TestDirs.delete(dir);
    }

    Stream<StorageDriver> drivers() {
        return Stream.of(s3Storage, fsStorage);
    }

    /** Whatever a test did, failed uploads included, every chunk of upload memory is back in the pool. */
    @AfterEach
    void noUploadMemoryKept() {
        assertThat(buffers.chunksInUse()).as("chunks still held by uploads").isZero();
    }

    /** A stream that ends exactly at a part boundary: the empty part after it is never sent (S3 refuses empty parts). */
    @ParameterizedTest(autoCloseArguments = false) // the drivers are shared by the whole class
    @MethodSource("drivers")
    void anObjectOfExactlyTwoPartsRoundTrips(StorageDriver storage) throws Exception {
        byte[] data = random(2 * (int) PART);
        storage.put("two/parts.bin", new ByteArrayInputStream(data), Map.of());
        try (var object = storage.get("two/parts.bin").orElseThrow()) {
            assertThat(object.content().readAllBytes()).isEqualTo(data);
        }
    }

    /** Four multipart uploads at once, each larger than all the upload memory: all complete, none waits forever. */
    @ParameterizedTest(autoCloseArguments = false) // the drivers are shared by the whole class
    @MethodSource("drivers")
    void concurrentUploadsLargerThanTheUploadMemoryAllComplete(StorageDriver storage) throws Exception {
        byte[][] contents = new byte[4][];
        var uploads = new java.util.ArrayList<java.util.concurrent.Future<?>>();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(contents.length)) {
            for (int i = 0; i < contents.length; i++) {
                byte[] content = contents[i] = random(2 * (int) PART + 1000 * (i + 1));
                String key = "many/obj-" + i;
                uploads.add(pool.submit(() -> storage.put(key, new ByteArrayInputStream(content), Map.of())));
            }
            for (var upload : uploads) upload.get(120, java.util.concurrent.TimeUnit.SECONDS);
        }
        for (int i = 0; i < contents.length; i++) {
            try (var object = storage.get("many/obj-" + i).orElseThrow()) {
                assertThat(object.content().readAllBytes()).isEqualTo(contents[i]);
            }
        }
    }

    /**
     * A listing from a point on (how a restore reads the stretch of WAL it needs): the keys after it in order, none
     * before it or equal to it, also across the windows of a filesystem directory's sorted reading.
     */
    @ParameterizedTest(autoCloseArguments = false) // the drivers are shared by the whole class
    @MethodSource("drivers")
    void aListingFromAKeyOnHoldsOnlyTheKeysAfterIt(StorageDriver storage) throws Exception {
        List<String> keys = new java.util.ArrayList<>();
        for (int i = 0; i < 30; i++) keys.add("from/00000002/0000000200000000%08X.zst".formatted(i));
        keys.add("from/00000002/00000002.history.zst");
        keys.add("from/00000002/000000020000000000000003.00000028.backup.zst");
        keys.add("from/00000003/000000030000000000000001.zst");
        for (String key : keys) storage.put(key, new ByteArrayInputStream(key.getBytes()), Map.of());
        try (var listed = storage.list("from/00000002/", "from/00000002/000000020000000000000003")) {
            assertThat(listed.map(StorageDriver.ObjectInfo::key)).containsExactlyElementsOf(keys.stream()
                    .filter(k -> k.startsWith("from/00000002/") && k.compareTo("from/00000002/000000020000000000000003") > 0).sorted().toList())
                    .startsWith("from/00000002/000000020000000000000003.00000028.backup.zst", "from/00000002/000000020000000000000003.zst",
                            "from/00000002/000000020000000000000004.zst")
                    .hasSize(28);
        }
        try (var listed = storage.list("from/00000002/", "from/00000002/000000020000000000000003.zst")) {
            assertThat(listed.map(StorageDriver.ObjectInfo::key).findFirst()).contains("from/00000002/000000020000000000000004.zst");
        }
        try (var listed = storage.list("from/", "from/00000002/~")) {
            assertThat(listed.map(StorageDriver.ObjectInfo::key)).containsExactly("from/00000003/000000030000000000000001.zst");
        }
        try (var listed = storage.list("from/00000002/", "from/00000002/000000020000000000000099")) {
            assertThat(listed).isEmpty();
        }
        for (String key : keys) storage.delete(key);
    }

    @ParameterizedTest(autoCloseArguments = false) // the drivers are shared by the whole class
    @MethodSource("drivers")
    void roundTripsALargeObjectOfUnknownLengthWithItsMetadata(StorageDriver storage) throws Exception {
        byte[] data = random(3 * (int) PART + 12345); // four parts on S3
        storage.put("c/big.bin", new ByteArrayInputStream(data), Map.of("sha256", "abc", "raw-size", "42"));
        var info = storage.stat("c/big.bin").orElseThrow();
        assertThat(info.size()).isEqualTo(data.length);
        assertThat(info.metadata()).containsEntry("sha256", "abc").containsEntry("raw-size", "42");
        try (var object = storage.get("c/big.bin").orElseThrow()) {
            assertThat(object.content().readAllBytes()).isEqualTo(data);
        }
        try (var listed = storage.list("c/")) {
            assertThat(listed.map(StorageDriver.ObjectInfo::key)).containsExactly("c/big.bin");
        }
        storage.delete("c/big.bin");
        assertThat(storage.stat("c/big.bin")).isEmpty();
        assertThat(storage.get("c/big.bin")).isEmpty();
    }

    @ParameterizedTest(autoCloseArguments = false) // the drivers are shared by the whole class
    @MethodSource("drivers")
    void aSourceThatFailsMidStreamLeavesNoObject(StorageDriver storage) {
        InputStream failing = new InputStream() {
            long sent;

            @Override
            public int read() throws IOException {
                if (sent++ >= 2 * PART + 100) throw new IOException("source broke");
                return 7;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = 0;
                while (n < Math.min(len, 65536)) b[off + n++] = (byte) read();
                return n;
            }
        };
        assertThatThrownBy(() -> storage.put("c/broken.bin", failing, Map.of())).isInstanceOf(PgwardenException.class)
                .hasMessageContaining("c/broken.bin").hasMessageContaining("source broke");
        assertThat(storage.stat("c/broken.bin")).isEmpty();
    }

    /** Eight writers race to create one key with different content: exactly one wins, and its bytes are what is stored. */
    @ParameterizedTest(autoCloseArguments = false) // the drivers are shared by the whole class
    @MethodSource("drivers")
    void racingCreatesOfOneKeyStoreExactlyOneAndNeverReplaceIt(StorageDriver storage) throws Exception {
        long multipartBefore = s3.multipartUploadsStarted();
        for (int size : new int[] {1000, (int) PART + 1}) { // less and more than a part: each in one PUT on S3
            String key = "race/obj-" + size;
            byte[][] contents = new byte[8][];
            for (int i = 0; i < contents.length; i++) contents[i] = random(size);
            var start = new java.util.concurrent.CountDownLatch(1);
            var results = new java.util.ArrayList<java.util.concurrent.Future<Boolean>>();
            try (var pool = java.util.concurrent.Executors.newFixedThreadPool(contents.length)) {
                for (byte[] content : contents) {
                    results.add(pool.submit(() -> {
                        start.await();
                        return storage.create(key, StorageDriver.SizedContent.of(content), Map.of("sha256", Integer.toString(java.util.Arrays.hashCode(content))));
                    }));
                }
                start.countDown();
            }
            int winners = 0;
            byte[] winner = null;
            for (int i = 0; i < contents.length; i++) {
                if (results.get(i).get()) {
                    winners++;
                    winner = contents[i];
                }
            }
            assertThat(winners).as(storage.describe() + ", " + size + " bytes").isEqualTo(1);
            try (var object = storage.get(key).orElseThrow()) {
                assertThat(object.content().readAllBytes()).isEqualTo(winner);
                assertThat(object.info().metadata()).containsEntry("sha256", Integer.toString(java.util.Arrays.hashCode(winner)));
            }
            assertThat(storage.create(key, StorageDriver.SizedContent.of(random(10)), Map.of())).isFalse();
            try (var object = storage.get(key).orElseThrow()) {
                assertThat(object.content().readAllBytes()).isEqualTo(winner);
            }
        }
        // Content of known length (a WAL file) is one PUT whatever the part size, not four requests and a copy.
        assertThat(s3.multipartUploadsStarted()).as("multipart uploads started").isEqualTo(multipartBefore);
    }

    @Test
    void anInterruptedMultipartUploadIsAborted() {
        aSourceThatFailsMidStreamLeavesNoObject(s3Storage);
        try (var client = s3.client()) {
            assertThat(client.listMultipartUploads(b -> b.bucket("contract")).uploads()).isEmpty();
        }
    }

    @Test
    void anInterruptedFilesystemWriteLeavesNoTempFile() throws IOException {
        aSourceThatFailsMidStreamLeavesNoObject(fsStorage);
        // Only this write's directory: other cases of the class store objects elsewhere in the same repository.
        try (var files = Files.walk(dir.resolve("repo/c"))) {
            assertThat(files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().equals(".lock"))).isEmpty();
        }
    }

    @Test
    void keysCannotClimbOutOfTheRepository() {
        assertThatThrownBy(() -> fsStorage.put("../escape", new ByteArrayInputStream(new byte[1]), Map.of()))
                .hasMessage("invalid object key '../escape'");
        assertThatThrownBy(() -> s3Storage.stat("a/../../b")).hasMessage("invalid object key 'a/../../b'");
    }

    @Test
    void anUnreachableS3EndpointIsUnavailable() {
        int port = io.pgwarden.it.support.TestDirs.freePort();
        try (var dead = new S3Storage(new S3Config(Optional.of(java.net.URI.create("http://127.0.0.1:" + port)), "x", "", "us-east-1", true,
                Optional.of(new Secret("a")), Optional.of(new Secret("b")), 1, PART, Duration.ofSeconds(5), Optional.empty(), Optional.empty(),
                S3Config.DEFAULT_DOWNLOAD_STREAMS), new ChunkPool(PART))) {
            assertThatThrownBy(dead::checkReachable).isInstanceOfSatisfying(PgwardenException.class,
                    e -> assertThat(e.code().httpStatus()).isEqualTo(503));
        }
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(42).nextBytes(b);
        return b;
    }
}
