package io.pgwarden.it.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgContainer;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.TestDirs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Backups that go wrong: a wrong password, a sidecar killed mid-stream, the daemon killed while a sidecar runs,
 * and two triggers of the same kind at once. Each leaves no committed backup, says why, and counts it.
 * The server holds about 45 MB and pg_basebackup is rate-limited (baseBackup.maxRate), so a backup lasts long
 * enough to be interrupted.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BackupFailuresTest {
    static final String PASSWORD = "fail-Pa55word";
    static final ObjectMapper JSON = new ObjectMapper();

    Path dir;
    PgCluster source;
    PgwardenFixture pgwarden;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-fail-");
        source = PgCluster.init(dir, "source", 16);
        source.configure("archive_mode = on", "archive_command = '/bin/true'").start();
        source.requirePassword(PASSWORD);
        source.query("CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 150000) g");
    }

    @AfterEach
    void stopDaemon() {
        if (pgwarden != null) pgwarden.close();
        pgwarden = null;
    }

    @AfterAll
    void stop() {
        if (source != null) source.close();
        TestDirs.delete(dir);
    }

    private PgwardenFixture daemon(String name, String password, String clusterExtra, String serverExtra) throws Exception {
        Path d = Files.createDirectories(dir.resolve(name));
        PgwardenFixture f = PgwardenFixture.start(d, PgwardenFixture.filesystemRepositoryYaml(d.resolve("repo")), serverExtra,
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres, password: \"" + password + "\"}\n" + clusterExtra);
        // archive_command now points at this daemon, so base backups get their WAL.
        source.query("ALTER SYSTEM SET archive_command = '" + f.archiveCommand().replace("'", "''") + "'");
        source.query("SELECT pg_reload_conf()");
        return f;
    }

    private static String dockerRunner() {
        return "runner: {type: docker, image: \"local/postgres:{major}\", network: host, pull: never}\n";
    }

    private JsonNode startBackup(PgwardenFixture f, String kind) throws Exception {
        HttpResponse<String> r = f.admin("POST", "/v1/clusters/main/backups?kind=" + kind);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        return JSON.readTree(r.body());
    }

    private JsonNode awaitFinished(PgwardenFixture f, String id) {
        JsonNode[] state = new JsonNode[1];
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).until(() -> {
            state[0] = JSON.readTree(f.admin("GET", "/v1/clusters/main/runs/" + id).body());
            return !state[0].get("state").asText().equals("running");
        });
        return state[0];
    }

    private static List<String> baseKeys(PgwardenFixture f) {
        return f.repositoryKeys().stream().filter(k -> k.startsWith("main/base/")).toList();
    }

    @Test
    void aWrongPasswordFailsTheRunWithPostgresqlsMessageAndCountsIt() throws Exception {
        pgwarden = daemon("wrong-password", "not-the-password", "", "");
        JsonNode run = awaitFinished(pgwarden, startBackup(pgwarden, "base").get("id").asText());

        assertThat(run.get("state").asText()).isEqualTo("failed");
        assertThat(run.get("error").asText()).contains("password authentication failed for user \"postgres\"");
        assertThat(run.get("errorCode").asText()).isEqualTo("TOOL");
        assertThat(pgwarden.metric("pgwarden_backup_failures_total{cluster=\"main\",kind=\"base\",reason=\"tool\"}")).isEqualTo(1.0);
        assertThat(baseKeys(pgwarden)).isEmpty();
        assertThat(pgwarden.repositoryKeys()).contains("main/failures/base/" + run.get("id").asText() + ".json");

        JsonNode dump = awaitFinished(pgwarden, startBackup(pgwarden, "dump").get("id").asText());
        assertThat(dump.get("state").asText()).isEqualTo("failed");
        assertThat(dump.get("error").asText()).contains("password authentication failed");
        assertThat(pgwarden.metric("pgwarden_backup_failures_total{cluster=\"main\",kind=\"dump\",reason=\"tool\"}")).isEqualTo(1.0);
        assertThat(pgwarden.repositoryKeys()).noneMatch(k -> k.startsWith("main/dump/") || k.startsWith("main/globals/"))
                .contains("main/failures/dump/" + dump.get("id").asText() + ".json");
    }

    @Test
    void aSidecarKilledMidStreamLeavesNoCommittedBackup() throws Exception {
        assumeTrue(PgContainer.imagePresent(), "no local image " + PgContainer.IMAGE);
        pgwarden = daemon("killed", PASSWORD, dockerRunner() + "baseBackup: {maxRate: 2MB}\n", "instance: it-killed");
        String id = startBackup(pgwarden, "base").get("id").asText();
        await().atMost(Duration.ofSeconds(60)).until(() -> !PgContainer.containersLabelled("io.pgwarden.run=" + id).isEmpty());
        Thread.sleep(2000); // mid-stream: part of the tar has been uploaded
        PgContainer.docker("kill", PgContainer.containersLabelled("io.pgwarden.run=" + id).get(0));

        JsonNode run = awaitFinished(pgwarden, id);
        assertThat(run.get("state").asText()).isEqualTo("failed");
        assertThat(run.get("error").asText()).contains("base backup " + id + " failed: pg_basebackup exited with code 137");
        assertThat(baseKeys(pgwarden)).isEmpty();
        assertThat(PgContainer.containersLabelled("io.pgwarden.instance=it-killed")).isEmpty();
        assertThat(pgwarden.metric("pgwarden_backup_failures_total{cluster=\"main\",kind=\"base\",reason=\"tool\"}")).isEqualTo(1.0);
    }

    @Test
    void twoTriggersOfTheSameKindNeverRunAtOnce() throws Exception {
        pgwarden = daemon("parallel", PASSWORD, "baseBackup: {maxRate: 8MB}\n", "");
        String first = startBackup(pgwarden, "base").get("id").asText();

        HttpResponse<String> second = pgwarden.admin("POST", "/v1/clusters/main/backups?kind=base");
        assertThat(second.statusCode()).isEqualTo(409);
        assertThat(second.body()).startsWith("a base backup of cluster 'main' is already running (run " + first + ", started ")
                .contains("by api); nothing was started");
        var cli = Launcher.run("backup", "--config", pgwarden.configFile().toString(), "--cluster", "main", "--kind", "base");
        assertThat(cli.exitCode()).isEqualTo(1);
        assertThat(cli.stderr()).contains("answered 409: a base backup of cluster 'main' is already running (run " + first);
        // Another kind is not held back.
        String dump = startBackup(pgwarden, "dump").get("id").asText();

        assertThat(awaitFinished(pgwarden, first).get("state").asText()).isEqualTo("succeeded");
        assertThat(awaitFinished(pgwarden, dump).get("state").asText()).isEqualTo("succeeded");
        assertThat(baseKeys(pgwarden)).containsExactly("main/base/" + first + "/backup_manifest.zst", "main/base/" + first + "/base.tar.zst",
                "main/base/" + first + "/manifest.json");
        assertThat(pgwarden.metric("pgwarden_backup_failures_total{cluster=\"main\",kind=\"base\",reason=\"busy\"}")).isEqualTo(2.0);
    }

    @Test
    void aDaemonKilledWhileASidecarRunsRemovesTheOrphanAtItsNextStart() throws Exception {
        assumeTrue(PgContainer.imagePresent(), "no local image " + PgContainer.IMAGE);
        Path d = Files.createDirectories(dir.resolve("orphan"));
        int port = TestDirs.freePort();
        Path config = PgwardenFixture.writeConfig(d, "127.0.0.1:" + port, PgwardenFixture.filesystemRepositoryYaml(d.resolve("repo")),
                "instance: it-orphan", "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres, password: \""
                        + PASSWORD + "\"}\n" + dockerRunner() + "baseBackup: {maxRate: 1MB}\n");
        Path log = d.resolve("daemon.log");
        Process daemon = Launcher.startDaemon(config, log, port);
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/backups?kind=base"))
                    .header("Authorization", "Bearer " + PgwardenFixture.ADMIN_TOKEN).POST(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
            await().atMost(Duration.ofSeconds(60)).until(() -> !PgContainer.containersLabelled("io.pgwarden.instance=it-orphan").isEmpty());
            daemon.destroyForcibly().waitFor();
            // SIGKILL: nothing could clean up, the sidecar outlives the daemon.
            assertThat(PgContainer.containersLabelled("io.pgwarden.instance=it-orphan")).hasSize(1);

            daemon = Launcher.startDaemon(config, log, port);
            assertThat(PgContainer.containersLabelled("io.pgwarden.instance=it-orphan")).isEmpty();
            assertThat(Files.readString(log)).contains("removing orphaned sidecar").contains("left by an earlier run of instance 'it-orphan'");
            try (var files = Files.walk(d.resolve("repo"))) {
                assertThat(files.map(p -> p.getFileName().toString())).doesNotContain("manifest.json");
            }
        } finally {
            daemon.destroyForcibly().waitFor();
            for (String c : PgContainer.containersLabelled("io.pgwarden.instance=it-orphan")) PgContainer.docker("rm", "-f", c);
        }
    }
}
