package io.pgwarden.it.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A base backup taken from a streaming replica (sparing the primary): the primary archives to pgwarden, the daemon's
 * connection points at the standby. A standby writes no backup history file, so the stop point comes from the backup
 * manifest, and the backup commits once the primary has archived the WAL up to it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StandbyBackupTest {
    Path dir;
    PgCluster primary;
    PgCluster standby;
    PgwardenFixture pgwarden;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-standby-");
        primary = PgCluster.init(dir, "primary", 16);
        primary.configure("archive_mode = on", "archive_command = '/bin/false'").start();
        primary.query("CREATE TABLE t (id serial, batch int)");
        insertBatch(primary, 1);

        Path standbyData = TestDirs.forPostgres(dir, "standby");
        Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pg_basebackup").toString(), "-h", primary.socketDir().toString(),
                "-p", Integer.toString(primary.port()), "-U", "postgres", "-D", standbyData.toString(), "-R", "-X", "stream"), "pg_basebackup -R");
        Processes.checked(Processes.run(List.of("chmod", "700", standbyData.toString()), null), "chmod");
        standby = PgCluster.existing(dir, standbyData, "standby");
        // archive_mode on a standby archives nothing (only "always" would): the WAL comes from the primary alone.
        standby.configure("archive_command = '/bin/false'").start();
        await().atMost(Duration.ofMinutes(1)).until(() -> standby.query("SELECT count(*) FROM t").equals("100"));
        assertThat(standby.query("SELECT pg_is_in_recovery()")).isEqualTo("t");

        pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "",
                "connection: {host: 127.0.0.1, port: " + standby.port() + ", user: postgres}\nbaseBackup: {walWait: 2m}\n");
        primary.query("ALTER SYSTEM SET archive_command = '" + pgwarden.archiveCommand().replace("'", "''") + "'");
        primary.query("SELECT pg_reload_conf()");
        primary.awaitArchived(primary.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
    }

    @AfterAll
    void stop() {
        if (pgwarden != null) pgwarden.close();
        if (standby != null) standby.close();
        if (primary != null) primary.close();
        TestDirs.delete(dir);
    }

    @Test
    void aBackupFromTheStandbyCommitsOnceThePrimaryArchivedItsWalAndRestoresToALaterTime() throws Exception {
        // The backup cannot end before the standby's replay position when it starts (its minimum recovery point).
        long replayedBefore = io.pgwarden.pg.Lsn.parse(standby.query("SELECT pg_last_wal_replay_lsn()"));
        // The backup waits for WAL the primary has not finished yet; the primary's segments move on as it is written to.
        CompletableFuture<JsonNode> backup = CompletableFuture.supplyAsync(() -> {
            try {
                return pgwarden.startAndAwait("/v1/clusters/main/backups?kind=base", null, "/v1/clusters/main/runs/", Duration.ofMinutes(3));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        while (!backup.isDone()) {
            Thread.sleep(500);
            primary.query("SELECT pg_switch_wal() FROM (SELECT pg_logical_emit_message(false, 'pgwarden-it', 'tick')) m");
        }
        JsonNode run = backup.join();
        assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("succeeded");
        String id = run.get("id").asText();
        JsonNode manifest = new ObjectMapper().readTree(read("main/base/" + id + "/manifest.json"));
        assertThat(manifest.get("backupHistoryFile").isNull()).as("a standby writes no backup history file").isTrue();
        // Not the stop point of another backup whose history file has the same start (the primary's backup that made
        // the standby starts at the checkpoint the standby's backup starts from).
        assertThat(io.pgwarden.pg.Lsn.parse(manifest.get("stopLsn").asText())).as("stop LSN").isGreaterThanOrEqualTo(replayedBefore);
        assertThat(io.pgwarden.pg.Lsn.parse(manifest.get("stopLsn").asText())).isLessThanOrEqualTo(io.pgwarden.pg.Lsn.parse(standby.query("SELECT pg_last_wal_replay_lsn()")));
        assertThat(Long.parseUnsignedLong(manifest.get("systemIdentifier").asText()))
                .isEqualTo(Long.parseUnsignedLong(primary.query("SELECT system_identifier FROM pg_control_system()")));

        insertBatch(primary, 2);
        Thread.sleep(1100);
        Instant target = Instant.parse(primary.query("SELECT to_json(clock_timestamp())#>>'{}'"));
        Thread.sleep(1100);
        insertBatch(primary, 3);
        primary.awaitArchived(primary.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));

        Path restored = dir.resolve("restored");
        var r = Launcher.run("restore", "--config", pgwarden.configFile().toString(), "--cluster", "main", "--target-time", target.toString(),
                "--target-dir", restored.toString());
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stdout()).contains("base backup:   " + id);
        Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", restored.toString()), null), "chown");
        Files.list(dir).filter(p -> p.getFileName().toString().startsWith("restored.")).forEach(p ->
                Processes.run(List.of("chown", "postgres", p.toString()), null));
        try (PgCluster copy = PgCluster.existing(dir, restored, "restored")) {
            copy.configure("archive_mode = off", "hot_standby = on").start();
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(300)).until(() -> copy.query("SELECT pg_is_in_recovery()").equals("f"));
            assertThat(copy.query("SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM (SELECT batch, count(*) n FROM t GROUP BY batch) s"))
                    .isEqualTo("1:100,2:100");
        }
    }

    private byte[] read(String key) throws Exception {
        try (var storage = io.pgwarden.storage.StorageFactory.create(pgwarden.config().repository());
             var object = storage.get(key).orElseThrow()) {
            return object.content().readAllBytes();
        }
    }

    private static void insertBatch(PgCluster pg, int batch) {
        pg.query("INSERT INTO t (batch) SELECT " + batch + " FROM generate_series(1, 100)");
    }
}
