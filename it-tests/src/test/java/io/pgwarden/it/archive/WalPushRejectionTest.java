package io.pgwarden.it.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.TestDirs;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Every way a push can be wrong gets its exact status and a one-line reason, and none of them changes the
 * repository. Real segments come from a real PostgreSQL; a second initdb provides a foreign system's WAL.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WalPushRejectionTest {
    private static final int SEGMENT = 1 << 20;

    Path dir;
    PgwardenFixture pgwarden;
    PgCluster source;
    byte[] archived;      // a segment PostgreSQL archived
    String archivedName;
    byte[] next;          // a valid segment not archived yet
    String nextName;
    byte[] foreign;       // a segment of another database system
    String foreignName;
    List<String> before;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-reject-");
        // The limit equals the segment size: a whole segment fits, one byte more does not.
        pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "maxBodySize: 1MiB");
        source = PgCluster.init(dir, "source", 1)
                .configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'", "wal_keep_size = '1GB'")
                .start();
        source.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
        archivedName = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
        source.query("SELECT pg_switch_wal()");
        source.awaitArchived(archivedName, Duration.ofMinutes(1));
        archived = PgwardenFixture.read(source.dataDir().resolve("pg_wal").resolve(archivedName));
        // The segment being written now is complete in size (preallocated) and carries a valid long header.
        source.sql("INSERT INTO t SELECT g FROM generate_series(1, 1000) g");
        nextName = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
        next = PgwardenFixture.read(source.dataDir().resolve("pg_wal").resolve(nextName));
        // Immediate stop: a clean shutdown would switch and archive 'next'. The repository is now ours to check.
        source.stopImmediately();
        assertThat(pgwarden.get(nextName).statusCode()).isEqualTo(404);

        PgCluster other = PgCluster.init(dir, "other", 1);
        foreignName = other.oldestSegmentInPgWal();
        foreign = PgwardenFixture.read(other.dataDir().resolve("pg_wal").resolve(foreignName));
    }

    @AfterAll
    void stop() {
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        TestDirs.delete(dir);
    }

    @BeforeEach
    void snapshot() {
        before = pgwarden.repositoryKeys();
    }

    @AfterEach
    void repositoryIsUnchanged() throws IOException {
        assertThat(pgwarden.repositoryKeys()).isEqualTo(before);
        try (var files = Files.walk(dir.resolve("repo"))) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp-"))).isEmpty();
        }
    }

    @Test
    void rejectsAnInvalidFileName() throws Exception {
        var r = pgwarden.put("not-a-wal-file", new byte[10]);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).isEqualTo("invalid WAL file name 'not-a-wal-file': expected a segment, .partial, .backup or .history file name\n");
    }

    @Test
    void rejectsPathTraversalWithDotDot() throws Exception {
        String status = rawRequest("PUT /v1/clusters/main/wal/../../../../tmp/evil HTTP/1.1", new byte[16], 16);
        assertThat(status).matches("HTTP/1.1 (400|404) .*");
        assertThat(dir.resolve("evil")).doesNotExist();
        assertThat(Path.of("/tmp/evil")).doesNotExist();
    }

    @Test
    void rejectsAnEncodedSlashInTheName() throws Exception {
        String status = rawRequest("PUT /v1/clusters/main/wal/..%2F..%2F" + nextName + " HTTP/1.1", new byte[16], 16);
        assertThat(status).startsWith("HTTP/1.1 400 ");
    }

    @Test
    void rejectsASegmentOfTheWrongSize() throws Exception {
        var r = pgwarden.put(nextName, Arrays.copyOf(next, SEGMENT / 2));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).isEqualTo("WAL file '" + nextName + "' is 524288 bytes, but a segment of this cluster is 1048576 bytes\n");
    }

    @Test
    void rejectsABadPageHeaderMagic() throws Exception {
        byte[] bad = next.clone();
        bad[0] = 0x34;
        bad[1] = 0x12;
        var r = pgwarden.put(nextName, bad);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).isEqualTo("WAL file '" + nextName + "' has an unknown page header magic 0x1234 (supported: PostgreSQL 13-17)\n");
    }

    @Test
    void rejectsASegmentPushedUnderAnotherName() throws Exception {
        String wrongName = "000000010000000000000042";
        var r = pgwarden.put(wrongName, next);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).startsWith("WAL file '" + wrongName + "' starts at LSN ").endsWith(", but its name says 0/4200000\n");
    }

    @Test
    void rejectsASegmentFromAnotherSystem() throws Exception {
        var r = pgwarden.put(foreignName, foreign);
        assertThat(r.statusCode()).isEqualTo(409);
        assertThat(r.body()).startsWith("WAL file '" + foreignName + "' belongs to database system ")
                .contains(", but cluster 'main' is system ");
    }

    @Test
    void answers200ForAnIdenticalDuplicate() throws Exception {
        var r = pgwarden.put(archivedName, archived);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("already archived with identical content: " + archivedName + "\n");
    }

    @Test
    void refusesDifferentContentForAnArchivedNameAndKeepsTheStoredFile() throws Exception {
        byte[] changed = archived.clone();
        changed[SEGMENT / 2] ^= 0x01;
        var r = pgwarden.put(archivedName, changed);
        assertThat(r.statusCode()).isEqualTo(409);
        assertThat(r.body()).contains("is already archived with different content").contains("the stored file is kept");
        assertThat(pgwarden.get(archivedName).body()).isEqualTo(archived);
    }

    @Test
    void rejectsAWrongOrMissingToken() throws Exception {
        var wrong = pgwarden.put(nextName, next, "not-the-token-at-all");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.body()).isEqualTo("wrong token for this cluster\n");
        assertThat(wrong.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        var missing = pgwarden.put(nextName, next, null);
        assertThat(missing.statusCode()).isEqualTo(401);
        assertThat(missing.body()).isEqualTo("missing Authorization: Bearer header\n");
        var get = HttpClient.newHttpClient().send(HttpRequest.newBuilder(pgwarden.walUrl(archivedName)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(get.statusCode()).isEqualTo(401);
    }

    @Test
    void rejectsABodyLargerThanTheLimit() throws Exception {
        byte[] big = Arrays.copyOf(next, SEGMENT + 1);
        var announced = pgwarden.put(nextName, big);
        assertThat(announced.statusCode()).isEqualTo(413);
        assertThat(announced.body()).isEqualTo("WAL file '" + nextName + "' is 1048577 bytes, larger than the limit of 1048576 bytes (server.maxBodySize)\n");

        // Chunked: no length announced, the limit must cut it off while streaming.
        var chunked = HttpClient.newHttpClient().send(HttpRequest.newBuilder(pgwarden.walUrl("00000005.history"))
                        .header("Authorization", "Bearer " + PgwardenFixture.TOKEN).expectContinue(true)
                        .PUT(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(new byte[SEGMENT + 4096]))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(chunked.statusCode()).isEqualTo(413);
        assertThat(chunked.body()).startsWith("WAL file '00000005.history' is ").contains("larger than the limit of 1048576 bytes");
    }

    @Test
    void aBodyCutShortStoresNothing() throws Exception {
        try (Socket s = new Socket("127.0.0.1", pgwarden.daemon().port())) {
            OutputStream out = s.getOutputStream();
            out.write(("PUT /v1/clusters/main/wal/" + nextName + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + PgwardenFixture.TOKEN
                    + "\r\nContent-Length: " + SEGMENT + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(next, 0, 300_000);
            out.flush();
        }
        // The daemon notices the early EOF and drops the upload; it keeps serving.
        await().atMost(Duration.ofSeconds(10)).until(() -> pgwarden.metric("pgwarden_wal_push_failures_total{cluster=\"main\",reason=\"aborted\"}") >= 1);
        assertThat(pgwarden.getText("/health").statusCode()).isEqualTo(200);
        assertThat(pgwarden.get(nextName).statusCode()).isEqualTo(404);
    }

    /** The token is checked before the cluster is looked up: whether 'nope' exists is not told, nor which clusters do. */
    @Test
    void answers401ForAnUnknownClusterWithoutNamingAnyCluster() throws Exception {
        for (String token : new String[] {PgwardenFixture.TOKEN, "not-the-token-at-all"}) {
            var r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(java.net.URI.create(pgwarden.baseUrl() + "/v1/clusters/nope/wal/" + nextName))
                    .header("Authorization", "Bearer " + token).expectContinue(true)
                    .PUT(HttpRequest.BodyPublishers.ofByteArray(next)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(401);
            assertThat(r.body()).isEqualTo("wrong token for this cluster\n");
        }
    }

    @Test
    void countsRefusalsByReason() throws Exception {
        pgwarden.put("bogus", new byte[1]);
        assertThat(pgwarden.metric("pgwarden_wal_push_failures_total{cluster=\"main\",reason=\"bad_request\"}")).isGreaterThanOrEqualTo(1);
    }

    private String rawRequest(String requestLine, byte[] body, int length) throws IOException {
        try (Socket s = new Socket("127.0.0.1", pgwarden.daemon().port())) {
            OutputStream out = s.getOutputStream();
            out.write((requestLine + "\r\nHost: x\r\nAuthorization: Bearer " + PgwardenFixture.TOKEN + "\r\nContent-Length: " + length
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return response.lines().findFirst().orElse("");
        }
    }

}
