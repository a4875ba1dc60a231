package io.pgwarden.it.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.backup.BaseBackupService;
import io.pgwarden.config.ConfigLoader;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.runner.ProcessToolRunner;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.nio.file.Files;
import java.time.Clock;
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
    static final String BATCHES = "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM (SELECT batch, count(*) n FROM t GROUP BY batch) s";
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

        restoresToExactlyTheRowsBeforeATarget(pgwarden.configFile(), id, 2, "restored");
    }

    /**
     * baseBackup.method: files on the standby: the daemon reads the standby's data directory; the stop point is what
     * pg_backup_stop returns there (its minimum recovery point), the WAL comes from the primary's archive.
     */
    @Test
    void aBackupReadFromTheStandbysDataDirectoryRestoresToALaterTime() throws Exception {
        Path file = dir.resolve("files.yml");
        String yaml = Files.readString(pgwarden.configFile());
        Files.writeString(file, yaml.replace("baseBackup: {walWait: 2m}", "baseBackup: {walWait: 2m, method: files, dataDirectory: " + standby.dataDir() + "}"));
        PgwardenConfig config = ConfigLoader.load(file);
        assertThat(config.cluster("main").baseBackup().method()).isEqualTo(io.pgwarden.config.BaseBackupConfig.Method.FILES);
        long replayedBefore = io.pgwarden.pg.Lsn.parse(standby.query("SELECT pg_last_wal_replay_lsn()"));
        BaseBackupManifest manifest;
        try (StorageDriver storage = StorageFactory.create(config.repository())) {
            CompletableFuture<BaseBackupManifest> backup = CompletableFuture.supplyAsync(() -> new BaseBackupService(config, storage,
                    new WalRepository(storage, config.repository()), new ClusterInfoStore(storage), Clock.systemUTC())
                    .backup("main", new ProcessToolRunner(io.pgwarden.config.RunnerConfig.DEFAULT_BIN_DIR)));
            while (!backup.isDone()) {
                Thread.sleep(500);
                primary.query("SELECT pg_switch_wal() FROM (SELECT pg_logical_emit_message(false, 'pgwarden-it', 'tick')) m");
            }
            manifest = backup.join();
        }
        assertThat(manifest.toolVersion()).isEqualTo("pgwarden data directory copy");
        assertThat(manifest.backupHistoryFile()).as("a standby writes no backup history file").isNull();
        long stop = io.pgwarden.pg.Lsn.parse(manifest.stopLsn());
        assertThat(stop).isGreaterThanOrEqualTo(replayedBefore)
                .isLessThanOrEqualTo(io.pgwarden.pg.Lsn.parse(standby.query("SELECT pg_last_wal_replay_lsn()")));
        restoresToExactlyTheRowsBeforeATarget(file, manifest.backupId(), 12, "restored-files");
    }

    /** Rows go in on the primary before and after a target; a restore to it has exactly those before. */
    private void restoresToExactlyTheRowsBeforeATarget(Path configFile, String id, int batch, String name) throws Exception {
        insertBatch(primary, batch);
        String expected = primary.query(BATCHES);
        Thread.sleep(1100);
        Instant target = Instant.parse(primary.query("SELECT to_json(clock_timestamp())#>>'{}'"));
        Thread.sleep(1100);
        insertBatch(primary, batch + 1);
        primary.awaitArchived(primary.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));

        Path restored = dir.resolve(name);
        var r = Launcher.run("restore", "--config", configFile.toString(), "--cluster", "main", "--target-time", target.toString(),
                "--target-dir", restored.toString());
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stdout()).contains("base backup:   " + id);
        Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", restored.toString()), null), "chown");
        Files.list(dir).filter(p -> p.getFileName().toString().startsWith(name + ".")).forEach(p ->
                Processes.run(List.of("chown", "postgres", p.toString()), null));
        try (PgCluster copy = PgCluster.existing(dir, restored, name)) {
            copy.configure("archive_mode = off", "hot_standby = on").start();
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(300)).until(() -> copy.query("SELECT pg_is_in_recovery()").equals("f"));
            assertThat(copy.query(BATCHES)).isEqualTo(expected).contains("," + batch + ":100").doesNotContain("," + (batch + 1) + ":");
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
