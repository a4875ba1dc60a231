package io.pgwarden.it.restore;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Test restores through the admin API (the schedule calls the same run), with each runner: the newest base backup
 * restored into scratch space, PostgreSQL started on it, WAL replayed, checks run; the record in the repository, the
 * metrics, and nothing left behind, whether the checks pass or not.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class TestRestoreEndToEnd {
    static final ObjectMapper JSON = new ObjectMapper();
    Path dir;
    PgCluster source;
    Instant lastCommit;
    String dumpedRows;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-trestore-");
        source = PgCluster.init(dir, "source", 16);
        source.configure("archive_mode = on", "archive_command = '/bin/true'").start();
        source.query("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g");
    }

    @AfterAll
    void stop() {
        if (source != null) source.close();
        TestDirs.delete(dir);
    }

    /** @param expect the check's expected row count; EXPECTED: the count the restore must show (now + the 500 added below) */
    private PgwardenFixture daemon(String name, String expect) throws Exception {
        if (expect.equals("EXPECTED")) expect = Long.toString(Long.parseLong(source.query("SELECT count(*) FROM t")) + 500);
        Path d = Files.createDirectories(dir.resolve(name));
        PgwardenFixture f = PgwardenFixture.start(d, PgwardenFixture.filesystemRepositoryYaml(d.resolve("repo")), "instance: " + instance(),
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres}\n" + runnerYaml()
                        + "restoreTest: {scratchDir: " + d.resolve("scratch") + ", timeout: 5m, checks: [{sql: \"SELECT count(*) FROM t\", expect: \""
                        + expect + "\"}], dumps: true}\n");
        source.query("ALTER SYSTEM SET archive_command = '" + f.archiveCommand().replace("'", "''") + "'");
        source.query("SELECT pg_reload_conf()");
        var backup = f.daemon().jobs().run(new JobRequest("main", JobKind.BASE, Optional.empty(), "test"));
        assertThat(backup.state()).as(String.valueOf(backup.error())).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        var dump = f.daemon().jobs().run(new JobRequest("main", JobKind.DUMP, Optional.empty(), "test"));
        assertThat(dump.state()).as(String.valueOf(dump.error())).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        dumpedRows = source.query("SELECT count(*) FROM t");
        source.query("INSERT INTO t SELECT g FROM generate_series(1001, 1500) g");
        lastCommit = Instant.parse(source.query("SELECT to_json(clock_timestamp())#>>'{}'"));
        source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
        return f;
    }

    private JsonNode runTestRestore(PgwardenFixture f) throws Exception {
        return f.startAndAwait("/v1/clusters/main/restore-tests", null, "/v1/clusters/main/runs/", Duration.ofMinutes(3));
    }

    private static JsonNode record(PgwardenFixture f, String id) throws Exception {
        try (StorageDriver storage = StorageFactory.create(f.config().repository());
             var object = storage.get("main/restore-test/" + id + ".json").orElseThrow()) {
            return JSON.readTree(object.content());
        }
    }

    /** The cluster's runner (and for the docker runner, where its sidecars reach the source server). */
    abstract String runnerYaml();

    /** The daemon's instance name: its sidecars and scratch volumes carry it. */
    String instance() {
        return "it-trestore-" + getClass().getSimpleName().toLowerCase();
    }

    /** No scratch server, directory, container or volume is left after a test restore. */
    void assertNothingLeft(Path scratch) throws Exception {
        if (Files.exists(scratch)) {
            try (var left = Files.list(scratch)) {
                assertThat(left).isEmpty();
            }
        }
        assertThat(Processes.run(List.of("pgrep", "-f", scratch.toString()), null).stdout()).isEmpty();
    }

    @Test
    void aTestRestoreReplaysTheArchiveRunsTheChecksAndRecordsTheRecoveryTime() throws Exception {
        try (PgwardenFixture pgwarden = daemon("passing", "EXPECTED")) {
            JsonNode run = runTestRestore(pgwarden);
            assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("succeeded");

            JsonNode record = record(pgwarden, run.get("id").asText());
            assertThat(record.get("outcome").asText()).isEqualTo("succeeded");
            assertThat(record.get("backupId").asText()).matches("\\d{8}T\\d{6}Z-[0-9a-f]{4}");
            assertThat(record.get("checks").get(0).get("actual").asText()).isEqualTo(source.query("SELECT count(*) FROM t"));
            assertThat(record.get("checks").get(0).get("passed").asBoolean()).isTrue();
            // The last replayed commit is the insert of rows 1001..1500, just before lastCommit was read.
            Instant recoveredTo = Instant.parse(record.get("recoveredTo").asText());
            assertThat(recoveredTo).isBefore(lastCommit).isAfter(lastCommit.minusSeconds(30));
            assertThat(record.get("totalSeconds").asDouble()).isGreaterThan(record.get("recoverySeconds").asDouble()).isGreaterThan(0);

            assertThat(pgwarden.metric("pgwarden_restore_test_last_success_timestamp_seconds{cluster=\"main\"}"))
                    .isGreaterThanOrEqualTo(Instant.parse(record.get("finishedAt").asText()).getEpochSecond() - 1);
            assertThat(pgwarden.metric("pgwarden_restore_test_duration_seconds{cluster=\"main\"}"))
                    .isEqualTo(Math.round(record.get("totalSeconds").asDouble()));
            assertThat(pgwarden.metric("pgwarden_restore_test_failures_total{cluster=\"main\"}")).isZero();
            assertThat(pgwarden.metric("pgwarden_recovery_window_seconds{cluster=\"main\"}")).isGreaterThan(0);
            // The dump test restore: the newest dump of each database into a scratch database, its tables counted, dropped.
            JsonNode dumpCheck = record.get("dumpChecks").get(0);
            assertThat(dumpCheck.get("database").asText()).isEqualTo("postgres");
            assertThat(dumpCheck.get("error").isNull()).as(dumpCheck.toString()).isTrue();
            assertThat(dumpCheck.get("rowCounts").get("public.t").asText()).isEqualTo(dumpedRows);
            assertThat(source.query("SELECT count(*) FROM pg_database WHERE datname LIKE 'pgwarden_test_%'")).isEqualTo("0");
            assertNothingLeft(dir.resolve("passing/scratch"));
        }
    }

    @Test
    void aFailingCheckFailsTheTestRestoreAndSaysWhich() throws Exception {
        try (PgwardenFixture pgwarden = daemon("failing", "999")) {
            JsonNode run = runTestRestore(pgwarden);
            assertThat(run.get("state").asText()).isEqualTo("failed");
            assertThat(run.get("error").asText())
                    .isEqualTo("check failed on database 'postgres': SELECT count(*) FROM t returned '" + source.query("SELECT count(*) FROM t")
                            + "', expected '999'");
            JsonNode record = record(pgwarden, run.get("id").asText());
            assertThat(record.get("outcome").asText()).isEqualTo("failed");
            assertThat(record.get("checks").get(0).get("passed").asBoolean()).isFalse();
            assertThat(pgwarden.metric("pgwarden_restore_test_failures_total{cluster=\"main\"}")).isEqualTo(1.0);
            assertThat(pgwarden.metric("pgwarden_restore_test_last_success_timestamp_seconds{cluster=\"main\"}")).isZero();
            assertNothingLeft(dir.resolve("failing/scratch"));
        }
    }

    @Test
    void aCorruptBaseBackupFailsTheTestRestoreNamingTheObject() throws Exception {
        try (PgwardenFixture pgwarden = daemon("corrupt", "EXPECTED");
             StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            String key;
            try (var listing = storage.list("main/base/")) {
                key = listing.map(StorageDriver.ObjectInfo::key).filter(k -> k.endsWith("/base.tar.zst")).findFirst().orElseThrow();
            }
            var info = storage.stat(key).orElseThrow();
            byte[] bytes;
            try (var object = storage.get(key).orElseThrow()) {
                bytes = object.content().readAllBytes();
            }
            bytes[bytes.length / 2] ^= 0x5a;
            storage.put(key, new java.io.ByteArrayInputStream(bytes), info.metadata());

            JsonNode run = runTestRestore(pgwarden);
            assertThat(run.get("state").asText()).isEqualTo("failed");
            assertThat(run.get("error").asText()).as(run.toString()).startsWith("repository object '" + key + "' ");
            assertThat(record(pgwarden, run.get("id").asText()).get("outcome").asText()).isEqualTo("failed");
            assertThat(pgwarden.metric("pgwarden_restore_test_failures_total{cluster=\"main\"}")).isEqualTo(1.0);
            assertThat(pgwarden.metric("pgwarden_restore_test_last_success_timestamp_seconds{cluster=\"main\"}")).isZero();
            assertNothingLeft(dir.resolve("corrupt/scratch"));
        }
    }
}
