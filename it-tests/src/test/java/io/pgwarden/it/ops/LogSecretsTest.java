package io.pgwarden.it.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Both log formats after a full run of the real daemon process (WAL archived from a real PostgreSQL 15 that requires
 * a password, a refused push with a wrong token, a base backup and dumps through the admin API, a stop): JSON lines
 * are one object each, text lines carry time and level, and no secret appears in either: the WAL token, the admin
 * token, the S3 secret key, the PostgreSQL password, or the wrong token a client sent.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LogSecretsTest {
    static final String PG_PASSWORD = "pg-secret-password-9876";
    static final String WRONG_TOKEN = "a-wrong-token-that-must-not-be-logged";
    static final HttpClient HTTP = HttpClient.newHttpClient();

    Path dir;
    S3Server s3;
    PgCluster source;
    Path config;
    int port;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-logs-");
        s3 = new S3Server().start();
        s3.createBucket("logs");
        source = PgCluster.init(dir, "source", 16);
        port = TestDirs.freePort();
        config = PgwardenFixture.writeConfig(dir, "127.0.0.1:" + port, s3.repositoryYaml("logs", "p"), "",
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres, password: \"" + PG_PASSWORD + "\"}\n");
        source.configure("archive_mode = on", "archive_command = '" + PgwardenFixture.archiveCommandWithHeaderFile(dir, port) + "'").start();
        source.requirePassword(PG_PASSWORD);
        source.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
    }

    /** The same cluster with the docker runner (sidecars on the host network reach the server on 127.0.0.1). */
    private Path dockerConfig() throws Exception {
        Path d = Files.createDirectories(dir.resolve("docker"));
        return PgwardenFixture.writeConfig(d, "127.0.0.1:" + port, s3.repositoryYaml("logs", "p"), "instance: it-logs-docker",
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres, password: \"" + PG_PASSWORD + "\"}\n"
                        + "runner: {type: docker, image: \"local/postgres:{major}\", network: host, pull: never}\n");
    }

    @AfterAll
    void stop() throws Exception {
        if (source != null) source.close();
        if (s3 != null) s3.close();
        TestDirs.delete(dir);
    }

    /**
     * At DEBUG too, and with the docker runner: docker-java logs a container's create command (its environment holds
     * PGPASSWORD) and the HTTP clients log wire traffic at DEBUG, so those loggers are held at WARN whatever the level.
     */
    @ParameterizedTest
    @CsvSource({"text,INFO,process", "json,INFO,process", "text,DEBUG,docker", "json,DEBUG,process"})
    void noSecretAppearsInTheLog(String format, String level, String runner) throws Exception {
        if (runner.equals("docker")) org.junit.jupiter.api.Assumptions.assumeTrue(io.pgwarden.it.support.PgContainer.imagePresent(), "no local image");
        Path config = runner.equals("docker") ? dockerConfig() : this.config;
        Path log = dir.resolve("daemon-" + format + "-" + level + "-" + runner + ".log");
        ProcessBuilder start = new ProcessBuilder(Launcher.executable().toString(), "run", "--config", config.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        start.environment().put("PGWARDEN_LOG_FORMAT", format);
        start.environment().put("PGWARDEN_LOG_LEVEL", level);
        Process daemon = start.start();
        List<String> cliOutput = new ArrayList<>();
        try {
            await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(200)).ignoreExceptions().until(() ->
                    HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                            HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
            source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
            var refused = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/wal/000000010000000000000001"))
                    .header("Authorization", "Bearer " + WRONG_TOKEN).PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[16])).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(401);
            for (String kind : List.of("base", "dump")) {
                var r = Processes.run(List.of(Launcher.executable().toString(), "backup", "--config", config.toString(), "--cluster", "main",
                        "--kind", kind), dir, Map.of("PGWARDEN_LOG_FORMAT", format, "PGWARDEN_LOG_LEVEL", level));
                assertThat(r.exitCode()).as(r.stderr()).isZero();
                cliOutput.add(r.stdout() + r.stderr());
            }
        } finally {
            daemon.destroy(); // SIGTERM
            assertThat(daemon.waitFor(90, TimeUnit.SECONDS)).isTrue();
        }
        String text = Files.readString(log);
        assertThat(text).contains("pgwarden stopped");
        for (String secret : List.of(PgwardenFixture.TOKEN, PgwardenFixture.ADMIN_TOKEN, S3Server.SECRET_KEY, PG_PASSWORD, WRONG_TOKEN)) {
            assertThat(text).as("daemon log (%s) contains a secret", format).doesNotContain(secret);
            assertThat(String.join("\n", cliOutput)).as("CLI output contains a secret").doesNotContain(secret);
        }
        List<String> lines = text.lines().filter(l -> !l.isBlank()).toList();
        assertThat(lines).hasSizeGreaterThan(10);
        if (level.equals("DEBUG")) assertThat(text).as("the level applies").contains("DEBUG");
        if (runner.equals("docker")) assertThat(text).as("backups ran in sidecars").contains("sidecar");
        if (format.equals("json")) {
            ObjectMapper json = new ObjectMapper();
            for (String line : lines) {
                JsonNode event = json.readTree(line);
                assertThat(event.isObject()).as(line).isTrue();
                assertThat(event.path("level").asText()).as(line).isIn("DEBUG", "INFO", "WARN", "ERROR");
                assertThat(event.has("formattedMessage")).as(line).isTrue();
            }
        } else {
            assertThat(lines).anyMatch(l -> l.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z (INFO|WARN) .*"));
            assertThat(lines).noneMatch(l -> l.startsWith("{"));
        }
    }
}
