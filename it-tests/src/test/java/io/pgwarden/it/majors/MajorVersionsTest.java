package io.pgwarden.it.majors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgContainer;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One daemon, three clusters of three PostgreSQL majors at once (13, 15 and 17, each in a container from Debian's
 * packages), archiving over HTTP from their own archive_command; each cluster's base backups, dumps, test restores and
 * PITR restores run in sidecars of its own major. The full suite runs on 15; this is the focused run on the others.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MajorVersionsTest {
    private static final String PASSWORD = "majors-secret-pw";
    private static final int[] MAJORS = {13, 15, 17};
    private static final Pattern STARTED = Pattern.compile("started in container (\\S+) on volume (\\S+),");

    Path dir;
    Path configFile;
    final Map<Integer, PgContainer> servers = new LinkedHashMap<>();
    PgwardenFixture pgwarden;

    @BeforeAll
    void start() throws Exception {
        for (int major : MAJORS) {
            assumeTrue(PgContainer.imagePresent(major), "no local image " + PgContainer.image(major) + " (it-tests/images/build-images.sh builds it)");
        }
        dir = TestDirs.create("pgwarden-majors-");
        int port = TestDirs.freePort();
        StringBuilder clusters = new StringBuilder();
        for (int major : MAJORS) {
            PgContainer pg = PgContainer.start(major, PASSWORD, archiveCommand(port, "pg" + major), List.of());
            servers.put(major, pg);
            clusters.append(cluster("pg" + major, pg, "local/postgres:{major}"));
        }
        // The same servers through sidecar images of another major: older tools than the server, and newer ones.
        clusters.append(cluster("oldtools", servers.get(17), "local/postgres:15"));
        clusters.append(cluster("newtools", servers.get(13), "local/postgres:17"));
        configFile = dir.resolve("pgwarden.yml");
        Files.writeString(configFile, """
                server:
                  listen: 0.0.0.0:%d
                  adminToken: %s
                  instance: it-majors
                  allowPlaintext: true
                %s
                clusters:
                %s""".formatted(port, PgwardenFixture.ADMIN_TOKEN, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), clusters));
        pgwarden = PgwardenFixture.startWithConfig(dir, configFile);
    }

    private String cluster(String name, PgContainer pg, String image) {
        return """
                  %s:
                    walToken: %s-%s
                    connection: {host: 127.0.0.1, port: %d, user: postgres, password: "%s"}
                    runner: {type: docker, image: "%s", network: host, pull: never}
                    restoreTest: {scratchDir: %s, timeout: 5m, checks: [{sql: "SELECT count(*) FROM t", expect: "300"}], dumps: true}
                """.formatted(name, PgwardenFixture.TOKEN, name, pg.port(), PASSWORD, image, dir.resolve("scratch-" + name));
    }

    private static String archiveCommand(int port, String cluster) {
        return PgwardenFixture.archiveCommandFromContainer(port).replace("/v1/clusters/main/", "/v1/clusters/" + cluster + "/")
                .replace(PgwardenFixture.TOKEN, PgwardenFixture.TOKEN + "-" + cluster);
    }

    @AfterAll
    void stop() throws Exception {
        if (pgwarden != null) pgwarden.close();
        servers.values().forEach(PgContainer::close);
        if (dir != null) TestDirs.delete(dir);
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {13, 15, 17})
    void archivesBacksUpDumpsTestRestoresAndRestoresToATimeWithItsOwnMajor(int major) throws Exception {
        PgContainer pg = servers.get(major);
        String cluster = "pg" + major;
        assertThat(query(pg, "SHOW server_version_num")).startsWith(Integer.toString(major));
        query(pg, "CREATE TABLE t (batch int, n int)");
        insertBatch(pg, 1);
        JsonNode base = run(cluster, "backups?kind=base");
        assertThat(base.get("state").asText()).as(base.toString()).isEqualTo("succeeded");
        JsonNode dump = run(cluster, "backups?kind=dump");
        assertThat(dump.get("state").asText()).as(dump.toString()).isEqualTo("succeeded");
        insertBatch(pg, 2);
        Instant target = Instant.parse(query(pg, "SELECT to_json(clock_timestamp())#>>'{}'"));
        query(pg, "SELECT pg_sleep(1)");
        insertBatch(pg, 3);
        awaitArchived(pg, query(pg, "SELECT pg_walfile_name(pg_switch_wal())"));

        // The test restore replays the whole archive in a server of the cluster's major and checks all 300 rows.
        JsonNode test = pgwarden.startAndAwait("/v1/clusters/" + cluster + "/restore-tests", null, "/v1/clusters/" + cluster + "/runs/",
                Duration.ofMinutes(4));
        assertThat(test.get("state").asText()).as(test.toString()).isEqualTo("succeeded");

        // The operator's PITR: into a new volume, started in a container of the cluster's major, promoted at the target.
        var restored = Launcher.run("restore", "--config", configFile.toString(), "--cluster", cluster, "--target-time", target.toString(),
                "--start", "--port", Integer.toString(TestDirs.freePort()), "--archive-mode", "off");
        Matcher names = STARTED.matcher(restored.stdout());
        assertThat(names.find()).as(restored.stdout() + restored.stderr()).isTrue();
        try {
            assertThat(restored.exitCode()).as(restored.stderr()).isZero();
            assertThat(inContainer(names.group(1), "SHOW server_version_num")).startsWith(Integer.toString(major));
            assertThat(inContainer(names.group(1), "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM"
                    + " (SELECT batch, count(*) n FROM t GROUP BY batch) s")).isEqualTo("1:100,2:100");
        } finally {
            Processes.run(List.of("docker", "rm", "-f", names.group(1)), null);
            Processes.run(List.of("docker", "volume", "rm", names.group(2)), null);
        }
    }

    @Test
    void sidecarToolsOlderThanTheServerAreRefusedNamingBothVersionsBeforeAnyByteIsStored() throws Exception {
        for (String kind : List.of("base", "dump")) {
            JsonNode run = run("oldtools", "backups?kind=" + kind);
            assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("failed");
            assertThat(run.get("error").asText()).as(kind)
                    .containsPattern("'pg_(basebackup|dump) \\(PostgreSQL\\) 15\\.\\d+[^']*'")
                    .contains("local/postgres:15")
                    .contains("is older than the server (17)")
                    .contains("HINT: use PostgreSQL 17 client tools");
        }
        assertThat(pgwarden.repositoryKeys("oldtools/")).as("objects stored for the refused runs")
                .noneMatch(k -> k.startsWith("oldtools/base/") || k.startsWith("oldtools/dump/"));
    }

    /**
     * baseBackup.method: files on 13 (pg_start_backup / pg_stop_backup) and 17 (pg_backup_start / pg_backup_stop): the
     * daemon reads the server's data directory on its volume; restored by pgwarden into a container of that major, it
     * holds exactly the rows before the target.
     */
    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {13, 17})
    void aBackupReadFromTheDataDirectoryRestoresToATime(int major) throws Exception {
        PgContainer pg = servers.get(major);
        String cluster = "pg" + major;
        Path file = dir.resolve("files-" + major + ".yml");
        Files.writeString(file, withFilesMethod(Files.readString(configFile), cluster, pg.dataDirectoryOnHost()));
        io.pgwarden.config.PgwardenConfig config = io.pgwarden.config.ConfigLoader.load(file);
        query(pg, "CREATE TABLE f (batch int, n int)");
        query(pg, "INSERT INTO f SELECT 1, g FROM generate_series(1, 100) g");
        io.pgwarden.repository.BaseBackupManifest manifest;
        try (var storage = io.pgwarden.storage.StorageFactory.create(config.repository());
             var runner = new io.pgwarden.runner.ProcessToolRunner(io.pgwarden.config.RunnerConfig.DEFAULT_BIN_DIR)) {
            manifest = new io.pgwarden.backup.BaseBackupService(config, storage, new io.pgwarden.repository.WalRepository(storage, config.repository()),
                    new io.pgwarden.repository.ClusterInfoStore(storage), java.time.Clock.systemUTC()).backup(cluster, runner);
        }
        assertThat(manifest.toolVersion()).isEqualTo("pgwarden data directory copy");
        assertThat(manifest.pgVersionNum() / 10000).isEqualTo(major);
        query(pg, "INSERT INTO f SELECT 2, g FROM generate_series(1, 100) g");
        Thread.sleep(1100);
        Instant target = Instant.parse(query(pg, "SELECT to_json(clock_timestamp())#>>'{}'"));
        Thread.sleep(1100);
        query(pg, "INSERT INTO f SELECT 3, g FROM generate_series(1, 100) g");
        awaitArchived(pg, query(pg, "SELECT pg_walfile_name(pg_switch_wal())"));

        var restored = Launcher.run("restore", "--config", file.toString(), "--cluster", cluster, "--target-time", target.toString(),
                "--start", "--port", Integer.toString(TestDirs.freePort()), "--archive-mode", "off");
        Matcher names = STARTED.matcher(restored.stdout());
        assertThat(names.find()).as(restored.stdout() + restored.stderr()).isTrue();
        try {
            assertThat(restored.exitCode()).as(restored.stderr()).isZero();
            assertThat(restored.stdout()).contains("base backup:   " + manifest.backupId());
            assertThat(inContainer(names.group(1), "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM"
                    + " (SELECT batch, count(*) n FROM f GROUP BY batch) s")).isEqualTo("1:100,2:100");
        } finally {
            Processes.run(List.of("docker", "rm", "-f", names.group(1)), null);
            Processes.run(List.of("docker", "volume", "rm", names.group(2)), null);
        }
    }

    /** The config with {@code cluster}'s base backups read from {@code dataDirectory}. */
    private static String withFilesMethod(String yaml, String cluster, Path dataDirectory) {
        int at = yaml.indexOf("\n  " + cluster + ":\n");
        int runner = yaml.indexOf("\n    runner: ", at) + 1;
        int end = yaml.indexOf('\n', runner) + 1;
        return yaml.substring(0, end) + "    baseBackup: {method: files, dataDirectory: " + dataDirectory + "}\n" + yaml.substring(end);
    }

    @Test
    void anIncrementalBackupOfAServerBeforeSeventeenIsRefusedNamingItsVersion() throws Exception {
        JsonNode run = run("pg15", "backups?kind=incremental");
        assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("failed");
        assertThat(run.get("error").asText()).contains("incremental backups need PostgreSQL 17 or newer; the server runs 15");
        assertThat(pgwarden.repositoryKeys("pg15/failures/incremental/")).hasSize(1);
    }

    @Test
    void aNewerPgDumpDumpsAnOlderServer() throws Exception {
        JsonNode run = run("newtools", "backups?kind=dump");
        assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("succeeded");
        List<String> manifests = pgwarden.repositoryKeys("newtools/dump/").stream().filter(k -> k.endsWith("manifest.json")).toList();
        assertThat(manifests).isNotEmpty();
        for (String key : manifests) {
            JsonNode manifest = new com.fasterxml.jackson.databind.ObjectMapper().readTree(read(key));
            assertThat(manifest.get("pgVersionNum").asInt() / 10000).as(key).isEqualTo(13);
            assertThat(manifest.get("toolVersion").asText()).as(key).contains("(PostgreSQL) 17.");
        }
    }

    private byte[] read(String key) throws Exception {
        try (var storage = io.pgwarden.storage.StorageFactory.create(pgwarden.config().repository());
             var object = storage.get(key).orElseThrow()) {
            return object.content().readAllBytes();
        }
    }

    private JsonNode run(String cluster, String start) throws Exception {
        return pgwarden.startAndAwait("/v1/clusters/" + cluster + "/" + start, null, "/v1/clusters/" + cluster + "/runs/", Duration.ofMinutes(3));
    }

    private static void insertBatch(PgContainer pg, int batch) {
        query(pg, "INSERT INTO t SELECT " + batch + ", g FROM generate_series(1, 100) g");
    }

    private static String query(PgContainer pg, String sql) {
        return pg.psql().query("postgres", sql).strip();
    }

    private static void awaitArchived(PgContainer pg, String segment) {
        Awaitility.await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                assertThat(query(pg, "SELECT coalesce(last_archived_wal, '') >= '" + segment + "' FROM pg_stat_archiver"))
                        .as("%s archived", segment).isEqualTo("t"));
    }

    private static String inContainer(String container, String sql) {
        return Processes.checked(Processes.run(List.of("docker", "exec", "-u", "postgres", "-e", "PGPASSWORD=" + PASSWORD, container, "psql", "-X", "-At",
                "-h", "/pgwarden-restore", "-d", "postgres", "-c", sql), null), "psql in the restored container").stdout().strip();
    }
}
