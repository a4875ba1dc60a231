package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgContainer;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.Psql;
import io.pgwarden.it.support.TestDirs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Names an operator or a database owner chooses are data, never code: a restore target directory with a quote and
 * a command substitution in it, database names Docker would not accept as container names, and a restore target
 * name crafted to add settings. Also: a restored postmaster starts with a minimal environment, never the secrets
 * of the process that started it, and sidecars run confined.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileNamesTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> DATABASES = List.of("app.v2", "my db", "données");
    Path dir;
    PgCluster source;
    PgwardenFixture pgwarden;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-names-");
        source = PgCluster.init(dir, "source", 16);
        pgwarden = PgwardenFixture.archiving(dir, source, "instance: it-names", "");
        source.query("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 321) g");
        pgwarden.baseBackup();
        source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
    }

    @AfterAll
    void stop() {
        if (pgwarden != null) pgwarden.close();
        if (source != null) source.close();
        TestDirs.delete(dir);
    }

    @Test
    void aTargetDirectoryWithAQuoteAndACommandSubstitutionRestoresStartsAndRunsNothing() throws Exception {
        Path target = dir.resolve("o'neil $(touch pwned)");
        int port = TestDirs.freePort();
        // Secrets in the CLI's environment, as a systemd EnvironmentFile or a container would set them.
        var r = Processes.run(List.of(Launcher.executable().toString(), "restore", "--config", pgwarden.configFile().toString(), "--cluster",
                "main", "--latest", "--target-dir", target.toString(), "--start", "--port", Integer.toString(port), "--archive-mode", "off"),
                dir, Map.of("AWS_SECRET_ACCESS_KEY", "leaked-aws-secret", "PGWARDEN_MAIN_TOKEN", "leaked-wal-token"));
        try {
            assertThat(r.exitCode()).as(r.stderr() + r.stdout()).isEqualTo(0);
            assertThat(new Psql("127.0.0.1", port, "unused").query("postgres", "SELECT count(*) FROM t")).isEqualTo("321");
            // The postmaster's environment holds none of the starting process's secrets.
            String pid = Files.readAllLines(target.resolve("postmaster.pid")).get(0).strip();
            String environ = new String(Files.readAllBytes(Path.of("/proc", pid, "environ")), StandardCharsets.UTF_8);
            assertThat(environ).doesNotContain("leaked-").doesNotContain("AWS_").doesNotContain("PGWARDEN_");
        } finally {
            Processes.asPostgres(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", target.toString(), "-m", "immediate", "-w", "stop");
        }
        for (Path where : List.of(Path.of("/pwned"), Path.of("/tmp/pwned"), dir.resolve("pwned"), target.resolve("pwned"),
                Path.of(System.getProperty("user.dir"), "pwned"))) {
            assertThat(where).as("nothing ran the command substitution").doesNotExist();
        }
    }

    @Test
    void aTargetNameCannotAddSettingsFromTheCliOrTheApi() throws Exception {
        String hostile = "x\\'\ninclude = '/tmp/pwn.conf'\n#";
        var cli = pgwarden.cli("restore", "--target-name", hostile, "--target-dir", dir.resolve("named").toString());
        assertThat(cli.exitCode()).isEqualTo(2);
        assertThat(cli.stderr()).contains("--target-name must not contain control characters");
        assertThat(dir.resolve("named")).doesNotExist();
        var api = pgwarden.admin("POST", "/v1/clusters/main/restores", JSON.writeValueAsString(Map.of("targetName", hostile,
                "targetDir", dir.resolve("named-api").toString())));
        assertThat(api.statusCode()).isEqualTo(400);
        assertThat(api.body()).startsWith("targetName must not contain control characters");
        var backslash = pgwarden.admin("POST", "/v1/clusters/main/restores", JSON.writeValueAsString(Map.of("targetName", "a\\'b",
                "targetDir", dir.resolve("named-api").toString())));
        assertThat(backslash.statusCode()).isEqualTo(400);
        assertThat(backslash.body()).startsWith("targetName must not contain a backslash");
        var tooLong = pgwarden.cli("restore", "--target-name", "é".repeat(32), "--target-dir", dir.resolve("named").toString());
        assertThat(tooLong.exitCode()).isEqualTo(2);
        assertThat(tooLong.stderr()).contains("--target-name is longer than PostgreSQL's limit of 63 bytes");
        assertThat(dir.resolve("named-api")).doesNotExist();
    }

    @Test
    void databaseNamesDockerRefusesAsContainerNamesAreDumpedInConfinedSidecars() throws Exception {
        assumeTrue(PgContainer.imagePresent(), "no local image " + PgContainer.IMAGE);
        for (String db : DATABASES) {
            source.query("CREATE DATABASE \"" + db + "\"");
            source.query("CREATE TABLE t AS SELECT 7 AS x", db);
        }
        Path d = Files.createDirectories(dir.resolve("docker"));
        try (PgwardenFixture docker = PgwardenFixture.start(d, PgwardenFixture.filesystemRepositoryYaml(d.resolve("repo")), "instance: it-names-docker",
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres}\n"
                        + "runner: {type: docker, image: \"local/postgres:{major}\", network: host, pull: never}\n"
                        + "dump: {databases: [\"app.v2\", \"my db\", \"données\"]}\nbaseBackup: {maxRate: 1MB}\n")) {
            var dump = docker.daemon().jobs().run(new JobRequest("main", JobKind.DUMP, Optional.empty(), "test"));
            assertThat(dump.state()).as(String.valueOf(dump.error())).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
            List<String> manifests = new ArrayList<>(docker.repositoryKeys("main/dump/").stream().filter(k -> k.endsWith("/manifest.json")).toList());
            assertThat(manifests).hasSize(DATABASES.size());

            // A base backup's sidecar, caught while it runs (rate-limited): no capabilities, no new privileges, a pids limit.
            var started = docker.admin("POST", "/v1/clusters/main/backups?kind=base");
            String id = JSON.readTree(started.body()).get("id").asText();
            await().atMost(Duration.ofSeconds(60)).until(() -> !PgContainer.containersLabelled("io.pgwarden.run=" + id).isEmpty());
            String container = PgContainer.containersLabelled("io.pgwarden.run=" + id).get(0);
            String confinement = PgContainer.docker("inspect", "--format",
                    "{{.HostConfig.CapDrop}} {{.HostConfig.CapAdd}} {{.HostConfig.SecurityOpt}} {{.HostConfig.PidsLimit}}", container).strip();
            assertThat(confinement).isEqualTo("[ALL] [CHOWN DAC_OVERRIDE FOWNER SETUID SETGID] [no-new-privileges] 512");
        }
    }
}
