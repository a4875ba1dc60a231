package io.pgwarden.it.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.luben.zstd.ZstdInputStream;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.backup.BaseBackupService;
import io.pgwarden.config.ConfigLoader;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.RunnerConfig;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.runner.DockerSettings;
import io.pgwarden.runner.DockerToolRunner;
import io.pgwarden.runner.ProcessToolRunner;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.testcontainers.DockerClientFactory;

/**
 * A real PostgreSQL 15 (password required) archives to the daemon; base backups run through the process runner
 * and through a Docker sidecar; each backup, unpacked with the archived WAL, starts and shows exactly the rows
 * that existed when it was taken.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BaseBackupEndToEndTest {
    static final String PASSWORD = "backup-Pa55";

    Path dir;
    PgCluster source;
    PgwardenFixture pgwarden;
    StorageDriver storage;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-base-");
        source = PgCluster.init(dir, "source", 1);
        pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "",
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres, password: \"" + PASSWORD + "\"}");
        source.configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'").start();
        source.requirePassword(PASSWORD);
        storage = StorageFactory.create(pgwarden.config().repository());
    }

    @AfterAll
    void stop() {
        if (storage != null) storage.close();
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        TestDirs.delete(dir);
    }

    BaseBackupService service(PgwardenConfig config) {
        return new BaseBackupService(config, storage, new WalRepository(storage, config.repository()), new ClusterInfoStore(storage),
                Clock.systemUTC());
    }

    @Test
    void aBackupThroughTheProcessRunnerRestoresToTheRowsAtBackupTime() throws Exception {
        try (ToolRunner runner = new ProcessToolRunner(RunnerConfig.DEFAULT_BIN_DIR)) {
            backupAndRestore("proc", runner, pgwarden.config());
        }
        // PostgreSQL compressed into a directory of the spool; it is gone with the run.
        try (var left = Files.list(pgwarden.config().server().spoolDir())) {
            assertThat(left.map(Path::toString)).noneMatch(f -> f.endsWith(".dir"));
        }
    }

    @Test
    void aBackupTheDaemonCompressesCarriesItsManifestInTheTar() throws Exception {
        backupAndRestoreWith("daemonz", "compressOn: daemon");
    }

    /**
     * PostgreSQL throttles after compressing: with a maxRate, compressOn: auto leaves compressing to the daemon, so
     * that the rate bounds what the server reads (the manifest is then in the tar, as pg_basebackup writes it).
     */
    @Test
    void aRateLimitedBackupIsCompressedByTheDaemon() throws Exception {
        backupAndRestoreWith("ratelimited", "maxRate: 500MB");
    }

    /** Through the process runner, with the cluster's baseBackup settings {@code settings}. */
    private void backupAndRestoreWith(String table, String settings) throws Exception {
        Path config = dir.resolve(table + ".yml");
        Files.writeString(config, Files.readString(pgwarden.configFile()).replace("    connection: {",
                "    baseBackup: {" + settings + "}\n    connection: {"));
        try (ToolRunner runner = new ProcessToolRunner(RunnerConfig.DEFAULT_BIN_DIR)) {
            backupAndRestore(table, runner, ConfigLoader.load(config));
        }
    }

    @Test
    void aBackupThroughADockerSidecarRestoresToTheRowsAtBackupTime() throws Exception {
        assumeTrue(DockerClientFactory.instance().isDockerAvailable(), "no Docker engine");
        try (ToolRunner runner = new DockerToolRunner(new DockerSettings(Optional.empty(), "local/postgres:{major}", "host",
                RunnerConfig.Pull.NEVER, Optional.empty(), Optional.empty(), "it-base",
                Optional.of(new DockerSettings.StreamDir(dir.resolve("stream"), dir.resolve("stream").toString()))))) {
            backupAndRestore("dock", runner, pgwarden.config());
        }
        try (var left = Files.list(dir.resolve("stream"))) {
            assertThat(left.toList()).as("the sidecar's output directory is removed with the run").isEmpty();
        }
    }

    @Test
    void aWrongPasswordFailsWithPostgresqlsMessageAndLeavesOnlyAFailureRecord() throws Exception {
        Path config = dir.resolve("wrong.yml");
        Files.writeString(config, Files.readString(pgwarden.configFile()).replace(PASSWORD, "not-the-password"));
        PgwardenConfig wrong = ConfigLoader.load(config);
        List<String> baseBefore = keys("main/base/");
        try (ToolRunner runner = new ProcessToolRunner(RunnerConfig.DEFAULT_BIN_DIR)) {
            assertThatThrownBy(() -> service(wrong).backup("main", runner))
                    .hasMessageContaining("password authentication failed for user \"postgres\"");
        }
        assertThat(keys("main/base/")).isEqualTo(baseBefore);
        assertThat(keys("main/failures/base/")).isNotEmpty();
    }

    /**
     * The upload completes as soon as PostgreSQL's tar has ended, while pg_basebackup still waits for the backup's WAL
     * to be archived: a tool that writes more into its file after that must fail the backup and leave no data behind.
     * Here pg_basebackup is wrapped by a script that appends a well-formed zstd frame once it is done.
     */
    @Test
    void aToolWritingPastItsTarsEndFailsTheBackupAndLeavesNoData() throws Exception {
        Path bin = Files.createDirectories(dir.resolve("wrapped-bin"));
        Path extra = dir.resolve("extra.zst");
        try (OutputStream z = new com.github.luben.zstd.ZstdOutputStream(Files.newOutputStream(extra), 1)) {
            z.write("one more tar member".getBytes());
        }
        Path script = bin.resolve("pg_basebackup");
        Files.writeString(script, """
                #!/bin/sh
                /usr/lib/postgresql/15/bin/pg_basebackup "$@" || exit $?
                while [ $# -gt 0 ]; do [ "$1" = -D ] && out=$2; shift; done
                [ -f "$out/base.tar.zst" ] && cat '%s' >> "$out/base.tar.zst"
                exit 0
                """.formatted(extra));
        Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        List<String> baseBefore = keys("main/base/");
        try (ToolRunner runner = new ProcessToolRunner(bin.toString())) {
            assertThatThrownBy(() -> service(pgwarden.config()).backup("main", runner))
                    .hasMessageContaining("pg_basebackup wrote " + Files.size(extra) + " more bytes into 'base.tar.zst' after its tar's end");
        }
        assertThat(keys("main/base/")).isEqualTo(baseBefore);
        // A backup through the real pg_basebackup still commits afterwards.
        try (ToolRunner runner = new ProcessToolRunner(RunnerConfig.DEFAULT_BIN_DIR)) {
            assertThat(keys("main/base/" + service(pgwarden.config()).backup("main", runner).backupId() + "/")).hasSize(3);
        }
    }

    @Test
    void theBackupCommandTakesOneAndPrintsItsId() throws Exception {
        // The daemon is up and has an admin token: the command goes through it.
        var r = io.pgwarden.it.support.Launcher.run("backup", "--config", pgwarden.configFile().toString(), "--cluster", "main", "--kind", "base");
        assertThat(r.exitCode()).as(r.stderr()).isEqualTo(0);
        assertThat(r.stderr()).contains("running through the daemon at " + pgwarden.baseUrl());
        String id = r.stdout().trim();
        assertThat(id).matches("\\d{8}T\\d{6}Z-[0-9a-f]{4}");
        assertThat(keys("main/base/" + id + "/")).contains("main/base/" + id + "/manifest.json");

        var dump = io.pgwarden.it.support.Launcher.run("backup", "--config", pgwarden.configFile().toString(), "--cluster", "main",
                "--kind", "dump", "--database", "postgres", "--standalone");
        assertThat(dump.exitCode()).as(dump.stderr()).isEqualTo(0);
        assertThat(dump.stderr()).doesNotContain("through the daemon");
        String dumpId = dump.stdout().trim();
        assertThat(keys("main/dump/postgres/" + dumpId + "/")).containsExactly("main/dump/postgres/" + dumpId + "/dump.zst",
                "main/dump/postgres/" + dumpId + "/manifest.json");
        assertThat(keys("main/globals/" + dumpId + "/")).hasSize(2);

        var missing = io.pgwarden.it.support.Launcher.run("backup", "--config", pgwarden.configFile().toString(), "--cluster", "main",
                "--kind", "dump", "--database", "nosuchdb");
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.stderr()).contains("database 'nosuchdb' does not exist or does not accept connections (present: postgres)");
        assertThat(missing.stderr()).containsPattern("pgwarden: \\(code NOT_FOUND, cluster main, run \\d{8}T\\d{6}Z-[0-9a-f]{4}\\)");
        var usage = io.pgwarden.it.support.Launcher.run("backup", "--config", pgwarden.configFile().toString(), "--cluster", "main",
                "--kind", "differential");
        assertThat(usage.exitCode()).isEqualTo(2);
        assertThat(usage.stderr()).contains("--kind: 'differential' is not a backup kind (base, incremental or dump)");
        var incremental = io.pgwarden.it.support.Launcher.run("backup", "--config", pgwarden.configFile().toString(), "--cluster", "main",
                "--kind", "incremental");
        assertThat(incremental.exitCode()).isEqualTo(2);
        assertThat(incremental.stderr()).contains("incremental backups need PostgreSQL 17 or newer; the server runs 15");
    }

    @Test
    void listShowsCommittedBackupsAndTheWalRangeFromTheRepositoryAlone() throws Exception {
        BaseBackupManifest taken;
        try (ToolRunner runner = new ProcessToolRunner(RunnerConfig.DEFAULT_BIN_DIR)) {
            taken = service(pgwarden.config()).backup("main", runner);
        }
        // A directory without manifest.json is not a backup and must not be listed.
        storage.put("main/base/20000101T000000Z-dead/base.tar.zst", new java.io.ByteArrayInputStream(new byte[10]), java.util.Map.of());

        var r = io.pgwarden.it.support.Launcher.run("list", "--config", pgwarden.configFile().toString(), "--cluster", "main", "--json");
        assertThat(r.exitCode()).as(r.stderr()).isEqualTo(0);
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.stdout());
        List<String> ids = new java.util.ArrayList<>();
        json.get("baseBackups").forEach(b -> ids.add(b.get("backupId").asText()));
        assertThat(ids).contains(taken.backupId()).doesNotContain("20000101T000000Z-dead");
        var timeline1 = json.get("wal").get(0);
        assertThat(timeline1.get("timeline").asInt()).isEqualTo(1);
        assertThat(timeline1.get("firstSegment").asText()).isLessThanOrEqualTo(taken.startWalFile());
        assertThat(timeline1.get("lastSegment").asText()).isGreaterThanOrEqualTo(taken.stopWalFile());
        assertThat(json.get("latestWalFile").asText()).isEqualTo(timeline1.get("lastSegment").asText());
        assertThat(json.get("earliestRestorable").isNull()).isFalse();

        var table = io.pgwarden.it.support.Launcher.run("list", "--config", pgwarden.configFile().toString(), "--cluster", "main");
        assertThat(table.exitCode()).isEqualTo(0);
        assertThat(table.stdout()).contains(taken.backupId()).contains("timeline 1: ").contains("restorable: from ");
        storage.delete("main/base/20000101T000000Z-dead/base.tar.zst");
    }

    /**
     * With {@code config}'s baseBackup.compressOn: auto, PostgreSQL 15 compresses and the tar holds no backup_manifest
     * (stored beside it, an operator adds it); with daemon, pg_basebackup puts it into the tar.
     */
    private void backupAndRestore(String table, ToolRunner runner, PgwardenConfig config) throws Exception {
        var baseBackup = config.cluster("main").baseBackup();
        boolean serverCompressed = baseBackup.compressOn() == io.pgwarden.config.BaseBackupConfig.CompressOn.SERVER
                || baseBackup.compressOn() == io.pgwarden.config.BaseBackupConfig.CompressOn.AUTO && baseBackup.maxRate().isEmpty();
        source.query("CREATE TABLE " + table + " AS SELECT g AS id, md5(g::text) AS pad FROM generate_series(1, 20000) g");
        BaseBackupManifest manifest = service(config).backup("main", runner);
        source.query("INSERT INTO " + table + " SELECT g, 'after' FROM generate_series(1, 5000) g");
        source.query("SELECT pg_switch_wal()");

        String directory = "main/base/" + manifest.backupId() + "/";
        assertThat(keys(directory)).containsExactly(directory + "backup_manifest.zst", directory + "base.tar.zst", directory + "manifest.json");
        assertThat(manifest.backupManifest().key()).isEqualTo(directory + "backup_manifest.zst");
        assertThat(manifest.rawBytes()).isGreaterThan(manifest.storedBytes()).isGreaterThan(0);
        assertThat(manifest.toolVersion()).startsWith("pg_basebackup (PostgreSQL) 15.");
        assertThat(manifest.backupHistoryFile()).endsWith(".backup");
        assertThat(keys("main/wal/00000001/" + manifest.backupHistoryFile())).hasSize(1);

        Path restored = restore(manifest, table);
        byte[] stored;
        try (var object = storage.get(manifest.backupManifest().key()).orElseThrow(); InputStream in = new ZstdInputStream(object.content())) {
            stored = in.readAllBytes();
        }
        if (serverCompressed) {
            assertThat(restored.resolve("backup_manifest")).as("PostgreSQL compressed: the manifest is not in the tar").doesNotExist();
            Files.write(restored.resolve("backup_manifest"), stored);
        } else {
            // PostgreSQL's backup_manifest, stored as its own object, is byte for byte the one in the tar.
            assertThat(Files.readAllBytes(restored.resolve("backup_manifest"))).isEqualTo(stored);
        }
        assertThat(manifest.backupManifest().rawBytes()).isEqualTo(stored.length);
        assertThat(manifest.backupManifest().sha256()).isEqualTo(java.util.HexFormat.of().formatHex(
                java.security.MessageDigest.getInstance("SHA-256").digest(stored)));
        // Every file of the tar is the one the manifest describes (size and checksum).
        var verify = Processes.run(List.of("/usr/lib/postgresql/15/bin/pg_verifybackup", "--no-parse-wal", restored.toString()), null);
        assertThat(verify.exitCode()).as(verify.stderr() + verify.stdout()).isEqualTo(0);
        try (PgCluster copy = PgCluster.existing(dir, restored, table + "-copy")) {
            copy.configure("restore_command = '" + pgwarden.restoreCommand() + "'", "recovery_target = 'immediate'",
                    "recovery_target_action = 'promote'", "archive_mode = off").start();
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(300))
                    .until(() -> copy.query("SELECT pg_is_in_recovery()").equals("f"));
            assertThat(copy.query("SELECT count(*) FROM " + table)).isEqualTo("20000");
            assertThat(copy.query("SELECT count(*) FROM " + table + " WHERE pad = 'after'")).isEqualTo("0");
        }
    }

    /** Unpacks base.tar.zst from the repository with tar, as an operator would, into a new data directory. */
    private Path restore(BaseBackupManifest manifest, String name) throws Exception {
        Path target = TestDirs.forPostgres(dir, name + "-restored");
        Process tar = new ProcessBuilder("tar", "-x", "-C", target.toString(), "-f", "-").redirectErrorStream(true).start();
        try (var object = storage.get(manifest.dataKey()).orElseThrow(); InputStream in = new ZstdInputStream(object.content());
             OutputStream out = tar.getOutputStream()) {
            in.transferTo(out);
        }
        assertThat(tar.waitFor()).as(new String(tar.getInputStream().readAllBytes())).isEqualTo(0);
        Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", target.toString()), null), "chown");
        Processes.checked(Processes.run(List.of("chmod", "700", target.toString()), null), "chmod");
        Files.writeString(target.resolve("recovery.signal"), "");
        return target;
    }

    private List<String> keys(String prefix) {
        try (var s = storage.list(prefix)) {
            return s.map(StorageDriver.ObjectInfo::key).sorted().toList();
        }
    }
}
