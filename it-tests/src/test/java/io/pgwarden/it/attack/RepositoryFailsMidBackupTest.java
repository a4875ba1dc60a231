package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.it.support.Tmpfs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.TestInstance;

/**
 * The repository fails while a base backup streams into it: S3 stops answering, or the filesystem holding the
 * repository fills up (a small tmpfs). The run fails promptly with the storage error, pg_basebackup is gone, the
 * failure is recorded (once the repository takes writes again), nothing is committed, and the next run succeeds.
 * (Before, the upload stopped reading while pg_basebackup's output blocked on the full pipe: the run stayed
 * "running" and every later base backup was refused as busy.)
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RepositoryFailsMidBackupTest {
    static final ObjectMapper JSON = new ObjectMapper();
    Path dir;
    PgCluster source;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-repofail-");
        source = PgCluster.init(dir, "source", 16);
        source.configure("archive_mode = on", "archive_command = '/bin/true'").start();
        // ~45 MB that compresses poorly enough to fill a small disk and to take several S3 parts.
        source.query("CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS pad FROM generate_series(1, 400000) g");
    }

    @AfterAll
    void stop() {
        if (source != null) source.close();
        TestDirs.delete(dir);
    }

    private PgwardenFixture daemon(Path d, String repositoryYaml) throws Exception {
        return daemon(d, repositoryYaml, "maxRate: 4MB, walWait: 60s", "");
    }

    /** @param archivePrefix put before the daemon's archive_command (e.g. a sleep) */
    private PgwardenFixture daemon(Path d, String repositoryYaml, String baseBackup, String archivePrefix) throws Exception {
        PgwardenFixture f = PgwardenFixture.start(d, repositoryYaml, "",
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres}\nbaseBackup: {" + baseBackup + "}\n");
        archiveThrough(f, archivePrefix);
        return f;
    }

    private void archiveThrough(PgwardenFixture f, String prefix) {
        source.query("ALTER SYSTEM SET archive_command = '" + (prefix + f.archiveCommand()).replace("'", "''") + "'");
        source.query("SELECT pg_reload_conf()");
    }

    @Test
    void s3StoppingMidBackupFailsTheRunPromptlyAndTheNextRunSucceeds() throws Exception {
        Path d = Files.createDirectories(dir.resolve("s3"));
        try (S3Server s3 = new S3Server().start()) {
            s3.createBucket("fail");
            try (PgwardenFixture pgwarden = daemon(d, s3.repositoryYaml("fail", "f").replace("requestTimeout: 10s", "requestTimeout: 3s\n    partSize: 5MiB"))) {
                String id = start(pgwarden);
                Thread.sleep(3000); // mid-stream: parts are being uploaded
                s3.stop();
                JsonNode run = awaitFinished(pgwarden, id, Duration.ofMinutes(2));
                assertThat(run.get("state").asText()).isEqualTo("failed");
                assertThat(run.get("error").asText()).as(run.toString()).contains("s3://fail/f/main/base/" + id + "/base.tar.zst");
                assertNoToolLeft(id);

                s3.start();
                await().atMost(Duration.ofSeconds(30)).until(() -> pgwarden.repositoryKeys().contains("main/failures/base/" + id + ".json"));
                assertThat(pgwarden.repositoryKeys()).noneMatch(k -> k.startsWith("main/base/" + id));
                JsonNode next = awaitFinished(pgwarden, start(pgwarden), Duration.ofMinutes(3));
                assertThat(next.get("state").asText()).as(next.toString()).isEqualTo("succeeded");
            }
        }
    }

    /**
     * pg_basebackup is quiet while PostgreSQL waits for the backup's WAL to be archived, and S3 stopping then stops the
     * archiving too. With the daemon compressing (it reads pg_basebackup's stdout) the run waited until S3 came back,
     * or baseBackup.timeout (a day); with PostgreSQL compressing the data object is complete by then (the tar has
     * ended) and must go again. Each archive_command call here first sleeps 8 s, so that S3 stops inside the wait:
     * the run fails with the repository's error, pg_basebackup is gone, nothing of the run stays, the next succeeds.
     */
    @ParameterizedTest
    @ValueSource(strings = {"daemon", "server"})
    void s3StoppingWhilePostgresqlWaitsForTheArchiveFailsTheRun(String compressOn) throws Exception {
        Path d = Files.createDirectories(dir.resolve("s3-archive-wait-" + compressOn));
        try (S3Server s3 = new S3Server().start()) {
            s3.createBucket("wait");
            try (PgwardenFixture pgwarden = daemon(d, s3.repositoryYaml("wait", "w").replace("requestTimeout: 10s", "requestTimeout: 3s"),
                    "walWait: 60s, compressOn: " + compressOn, "sleep 8; ")) {
                String id = start(pgwarden);
                await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(100)).until(() -> source.query(
                        "SELECT count(*) FROM pg_stat_progress_basebackup WHERE phase = 'waiting for wal archiving to finish'").equals("1"));
                s3.stop();
                JsonNode run = awaitFinished(pgwarden, id, Duration.ofMinutes(2));
                assertThat(run.get("state").asText()).isEqualTo("failed");
                assertThat(run.get("error").asText()).as(run.toString()).contains("s3://wait/w/main/base/" + id + "/base.tar.zst");
                if (compressOn.equals("daemon")) {
                    assertThat(run.get("error").asText()).contains("the repository could not be reached while pg_basebackup sent nothing");
                }
                assertNoToolLeft(id);
                await().atMost(Duration.ofSeconds(10)).until(() -> source.query("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'BASE_BACKUP%'")
                        .equals("0"));

                s3.start();
                archiveThrough(pgwarden, "");
                await().atMost(Duration.ofSeconds(30)).until(() -> pgwarden.repositoryKeys().contains("main/failures/base/" + id + ".json"));
                assertThat(pgwarden.repositoryKeys()).noneMatch(k -> k.startsWith("main/base/" + id));
                JsonNode next = awaitFinished(pgwarden, start(pgwarden), Duration.ofMinutes(3));
                assertThat(next.get("state").asText()).as(next.toString()).isEqualTo("succeeded");
            }
        }
    }

    @Test
    void aFullFilesystemRepositoryFailsTheRunNamingThePathAndTheNextRunSucceeds() throws Exception {
        Path d = Files.createDirectories(dir.resolve("full"));
        Path repo = Tmpfs.mount(d.resolve("repo"), "6m");
        try (PgwardenFixture pgwarden = daemon(d, PgwardenFixture.filesystemRepositoryYaml(repo))) {
            String id = start(pgwarden);
            JsonNode run = awaitFinished(pgwarden, id, Duration.ofMinutes(2));
            assertThat(run.get("state").asText()).isEqualTo("failed");
            assertThat(run.get("error").asText()).as(run.toString()).contains("filesystem repository '" + repo + "'")
                    .contains("No space left on device");
            assertNoToolLeft(id);
            // The failure is recorded (the partial temp file is gone, so there is room for it), nothing else of the run.
            await().atMost(Duration.ofSeconds(30)).until(() -> pgwarden.repositoryKeys().contains("main/failures/base/" + id + ".json"));
            assertThat(pgwarden.repositoryKeys()).noneMatch(k -> k.startsWith("main/base/"));
            try (var files = Files.walk(repo)) {
                assertThat(files.filter(f -> f.getFileName().toString().contains(".tmp-"))).isEmpty();
            }

            Tmpfs.grow(repo, "200m");
            JsonNode next = awaitFinished(pgwarden, start(pgwarden), Duration.ofMinutes(3));
            assertThat(next.get("state").asText()).as(next.toString()).isEqualTo("succeeded");
        } finally {
            Tmpfs.unmount(repo);
        }
    }

    private static String start(PgwardenFixture f) throws Exception {
        var r = f.admin("POST", "/v1/clusters/main/backups?kind=base");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        return JSON.readTree(r.body()).get("id").asText();
    }

    private static JsonNode awaitFinished(PgwardenFixture f, String id, Duration atMost) {
        JsonNode[] state = new JsonNode[1];
        await().atMost(atMost).pollInterval(Duration.ofMillis(500)).until(() -> {
            state[0] = JSON.readTree(f.admin("GET", "/v1/clusters/main/runs/" + id).body());
            return !state[0].get("state").asText().equals("running");
        });
        return state[0];
    }

    /** pg_basebackup runs with the label "pgwarden {id}": no process may carry it after the run. */
    private static void assertNoToolLeft(String id) {
        await().atMost(Duration.ofSeconds(10)).until(() -> Processes.run(List.of("pgrep", "-f", "pgwarden " + id), null).stdout().isBlank());
    }
}
