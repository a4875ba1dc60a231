package io.pgwarden.it.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.sync.RequestBody;

/**
 * Read-ahead of WAL GETs (server.walReadAhead): a real PostgreSQL 15 archives into S3Proxy; restore_command's
 * sequential requests are then served from segments fetched ahead, byte-identical; a corrupt object ahead is never
 * served (the request reports it, from the repository); a segment missing when it was looked for ahead is served once
 * it is archived; nothing fetched ahead outlives the daemon.
 */
class WalReadAheadTest {
    private static final String READ_AHEAD = "pgwarden_wal_fetches_total{cluster=\"main\",source=\"read-ahead\"}";
    private static final String FROM_REPOSITORY = "pgwarden_wal_fetches_total{cluster=\"main\",source=\"repository\"}";

    Path dir;
    S3Server s3;
    PgwardenFixture pgwarden;
    PgCluster source;
    Path spool;

    @BeforeEach
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-readahead-");
        spool = Files.createDirectories(dir.resolve("spool"));
        s3 = new S3Server().start();
        s3.createBucket("readahead");
        pgwarden = PgwardenFixture.start(dir, s3.repositoryYaml("readahead", "pgwarden"), "spoolDir: " + spool + "\nwalReadAhead: 4");
        // 1 MB segments; wal_keep_size keeps the originals in pg_wal to compare with.
        source = PgCluster.init(dir, "source", 1).configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'",
                "wal_keep_size = '1GB'", "max_wal_size = '1GB'").start();
        source.query("CREATE TABLE t (x int)");
    }

    @AfterEach
    void stop() throws Exception {
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        if (s3 != null) s3.close();
        TestDirs.delete(dir);
    }

    @Test
    void sequentialRequestsAreServedFromTheReadAheadByteIdentical() throws Exception {
        List<String> names = source.writeAndArchive(10);

        for (String name : names) {
            var r = pgwarden.get(name);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).as(name).isEqualTo(Files.readAllBytes(source.dataDir().resolve("pg_wal").resolve(name)));
        }
        // The first from the repository; each later one was started by the request before it (and waited for if in flight).
        assertThat(pgwarden.metric(FROM_REPOSITORY)).isEqualTo(1.0);
        assertThat(pgwarden.metric(READ_AHEAD)).isEqualTo(names.size() - 1.0);

        pgwarden.close();
        pgwarden = null;
        await().atMost(Duration.ofSeconds(10)).until(() -> filesUnder(spool).isEmpty());
    }

    @Test
    void aCorruptObjectAheadIsNeverServedAndTheRequestNamesIt() throws Exception {
        List<String> names = source.writeAndArchive(4);
        String key = pgwarden.walKeys().stream().filter(k -> k.contains("/" + names.get(2) + ".")).findFirst().orElseThrow();
        corrupt("pgwarden/" + key);

        assertThat(pgwarden.get(names.get(0)).statusCode()).isEqualTo(200); // starts reading 1..4 ahead
        assertThat(pgwarden.get(names.get(1)).statusCode()).isEqualTo(200);
        var corrupt = pgwarden.get(names.get(2));
        assertThat(corrupt.statusCode()).isEqualTo(500);
        assertThat(corrupt.headers().firstValue("Pgwarden-Error-Code")).hasValue("INTEGRITY");
        assertThat(corrupt.headers().firstValue("Pgwarden-Object")).hasValue(key);
        var after = pgwarden.get(names.get(3));
        assertThat(after.statusCode()).isEqualTo(200);
        assertThat(after.body()).isEqualTo(Files.readAllBytes(source.dataDir().resolve("pg_wal").resolve(names.get(3))));
    }

    @Test
    void aSegmentMissingWhenLookedForAheadIsServedOnceArchived() throws Exception {
        List<String> names = source.writeAndArchive(2);
        assertThat(pgwarden.get(names.get(1)).statusCode()).isEqualTo(200); // looks for the next ones: not archived yet

        String next = source.writeAndArchive(1).get(0);
        var r = pgwarden.get(next);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo(Files.readAllBytes(source.dataDir().resolve("pg_wal").resolve(next)));
        assertThat(pgwarden.get(PgCluster.nextSegment(next)).statusCode()).isEqualTo(404);
    }


    /** One byte of the stored object flipped, its metadata kept: only the content checks can tell. */
    private void corrupt(String s3Key) {
        try (var client = s3.client()) {
            var object = client.getObjectAsBytes(b -> b.bucket("readahead").key(s3Key));
            byte[] bytes = object.asByteArray();
            bytes[bytes.length / 2] ^= 0x5a;
            client.putObject(b -> b.bucket("readahead").key(s3Key).metadata(object.response().metadata()), RequestBody.fromBytes(bytes));
        }
    }


    private static List<Path> filesUnder(Path dir) throws Exception {
        try (Stream<Path> all = Files.walk(dir)) {
            return all.filter(Files::isRegularFile).toList();
        }
    }
}
