package io.pgwarden.it.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.luben.zstd.ZstdInputStream;
import io.pgwarden.backup.BaseBackupService;
import io.pgwarden.config.ConfigLoader;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.Psql;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.it.support.Tmpfs;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.runner.ProcessToolRunner;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * baseBackup.method: files: the daemon reads a real PostgreSQL 15's data directory itself between pg_backup_start and
 * pg_backup_stop. The backup restores, through pgwarden's own restore, to exactly the rows before a target time; it
 * leaves out what PostgreSQL's own backup leaves out, and never follows a link planted in the data directory to a file
 * the database's owner may not read.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DataDirectoryBackupTest {
    static final String SECRET = "TOP-SECRET-of-the-backup-host";
    /** What PostgreSQL logs when the session holding a backup ends before pg_backup_stop. */
    static final String ABORTED = "aborting backup due to backend exiting before pg_backup_stop was called";

    Path dir;
    PgCluster source;
    PgwardenFixture pgwarden;
    StorageDriver storage;
    Path secret;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-files-");
        source = PgCluster.init(dir, "source", 1, true); // data checksums: every page read is verified
        pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "", """
                connection: {host: 127.0.0.1, port: %d, user: postgres}
                baseBackup: {method: files, dataDirectory: %s}
                """.formatted(source.port(), source.dataDir()));
        source.configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'").start();
        storage = StorageFactory.create(pgwarden.config().repository());
        secret = dir.resolve("secret.txt");
        Files.writeString(secret, SECRET);
        Processes.checked(Processes.run(List.of("chmod", "600", secret.toString()), null), "chmod");
    }

    @AfterAll
    void stop() {
        if (storage != null) storage.close();
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        TestDirs.delete(dir);
    }

    @Test
    @Order(1)
    void aBackupReadFromTheDataDirectoryRestoresToExactlyTheRowsBeforeTheTarget() throws Exception {
        source.sql("CREATE TABLE t (batch int)", "INSERT INTO t SELECT 1 FROM generate_series(1, 100)",
                "CREATE UNLOGGED TABLE u AS SELECT g FROM generate_series(1, 50) g");
        String dbDir = "base/" + source.query("SELECT oid FROM pg_database WHERE datname = 'postgres'");
        String unlogged = dbDir + "/" + source.query("SELECT relfilenode FROM pg_class WHERE relname = 'u'");
        // Planted by the database's owner: links to a file only root may read, a temporary file, a stats temp file.
        Path data = source.dataDir();
        Files.createSymbolicLink(data.resolve("leak"), secret);
        Files.createSymbolicLink(data.resolve(dbDir).resolve("99999"), secret);
        Files.createDirectories(data.resolve("base/pgsql_tmp"));
        Files.writeString(data.resolve("base/pgsql_tmp/pgsql_tmp4242.0"), "spill");
        Files.writeString(data.resolve("pg_stat_tmp/planted.stat"), "stat");
        Processes.checked(Processes.run(List.of("chown", "-h", "-R", "postgres:postgres", data.toString()), null), "chown");

        var taken = pgwarden.cli("backup", "--kind", "base");
        assertThat(taken.exitCode()).as(taken.stderr()).isZero();
        String id = taken.stdout().trim();
        source.sql("INSERT INTO t SELECT 2 FROM generate_series(1, 100)");
        Thread.sleep(1100);
        Instant target = Instant.now();
        Thread.sleep(1100);
        source.sql("INSERT INTO t SELECT 3 FROM generate_series(1, 100)");
        source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), java.time.Duration.ofMinutes(1));

        BaseBackupManifest manifest = new io.pgwarden.repository.Catalog(storage).baseBackups("main").stream()
                .filter(b -> b.backupId().equals(id)).findFirst().orElseThrow();
        assertThat(manifest.toolVersion()).isEqualTo("pgwarden data directory copy");
        assertThat(manifest.backupManifest()).isNull();
        assertThat(pgwarden.repositoryKeys("main/base/" + id + "/")).containsExactly("main/base/" + id + "/base.tar.zst",
                "main/base/" + id + "/manifest.json");

        List<String> names = new ArrayList<>();
        String label;
        byte[] tarBytes;
        try (var object = storage.get(manifest.dataKey()).orElseThrow(); InputStream in = new ZstdInputStream(object.content())) {
            tarBytes = in.readAllBytes();
        }
        assertThat(manifest.rawBytes()).isEqualTo(tarBytes.length);
        try (TarArchiveInputStream tar = new TarArchiveInputStream(new java.io.ByteArrayInputStream(tarBytes))) {
            String text = null;
            for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
                names.add(e.getName());
                if (e.getName().equals("backup_label")) text = new String(tar.readAllBytes(), StandardCharsets.UTF_8);
            }
            label = text;
        }
        assertThat(names).contains("PG_VERSION", "pg_wal/", "pg_wal/archive_status/", "pg_stat_tmp/", unlogged + "_init")
                .doesNotContain("postmaster.pid", "postmaster.opts", "leak", dbDir + "/99999", unlogged, "pg_stat_tmp/planted.stat")
                .noneMatch(n -> n.contains("pgsql_tmp") || (n.startsWith("pg_wal/0")));
        assertThat(names.subList(names.size() - 2, names.size())).containsExactly("global/pg_control", "backup_label");
        assertThat(label).contains("LABEL: pgwarden " + id).contains("START WAL LOCATION: " + manifest.startLsn());
        assertThat(new String(tarBytes, StandardCharsets.ISO_8859_1)).doesNotContain(SECRET);

        Path restored = dir.resolve("restored");
        int port = TestDirs.freePort();
        var r = pgwarden.cli("restore", "--target-time", target.toString(), "--target-dir", restored.toString(), "--start", "--port",
                Integer.toString(port), "--archive-mode", "off");
        try {
            assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
            assertThat(r.stdout()).contains(id);
            Psql psql = new Psql("127.0.0.1", port, "unused");
            assertThat(psql.query("postgres", "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM"
                    + " (SELECT batch, count(*) n FROM t GROUP BY batch) s")).isEqualTo("1:100,2:100");
            // An unlogged table comes back empty, as from any backup.
            assertThat(psql.query("postgres", "SELECT count(*) FROM u")).isEqualTo("0");
        } finally {
            Processes.asPostgres(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", restored.toString(), "-m", "fast", "-w", "stop");
        }
        var verified = pgwarden.cli("verify");
        assertThat(verified.exitCode()).as(verified.stdout() + verified.stderr()).isZero();
        assertThat(verified.stdout()).contains("ok      base backup " + id);
    }

    @Test
    @Order(2)
    void theDataDirectoryOfAnotherClusterIsRefusedBeforeAnythingIsStored() throws Exception {
        try (PgCluster other = PgCluster.init(dir, "other", 1)) {
            PgwardenConfig config = configWith(pgwarden.configFile(), "dataDirectory: " + other.dataDir(), "wrongdir.yml");
            List<String> before = pgwarden.repositoryKeys("main/base/");
            String serverId = source.query("SELECT system_identifier FROM pg_control_system()");
            assertThatThrownBy(() -> service(config, storage).backup("main", new ProcessToolRunner(io.pgwarden.config.RunnerConfig.DEFAULT_BIN_DIR)))
                    .hasMessageContaining("baseBackup.dataDirectory '" + other.dataDir() + "' belongs to another cluster")
                    .hasMessageContaining("the server at the connection has " + serverId);
            assertThat(pgwarden.repositoryKeys("main/base/")).isEqualTo(before);
            assertThat(pgwarden.repositoryKeys("main/failures/base/")).isNotEmpty();
        }
    }

    @Test
    @Order(3)
    void aRepositoryThatFillsMidCopyFailsTheBackupAndTheServerEndsItsBackup() throws Exception {
        source.sql("CREATE TABLE bulk AS SELECT md5(g::text) || md5((g * 7)::text) AS pad FROM generate_series(1, 300000) g");
        int abortsBefore = count(source.serverLog(), ABORTED);
        Path small = Tmpfs.mount(dir.resolve("small"), "4m");
        try {
            PgwardenConfig config = configWith(pgwarden.configFile(), "path: " + small, "small.yml");
            try (StorageDriver full = StorageFactory.create(config.repository())) {
                assertThatThrownBy(() -> service(config, full).backup("main", new ProcessToolRunner(io.pgwarden.config.RunnerConfig.DEFAULT_BIN_DIR)))
                        .hasMessageContaining("No space left on device");
                try (var files = Files.walk(small)) {
                    assertThat(files.map(Path::toString)).noneMatch(f -> f.endsWith("base.tar.zst") || f.contains(".tmp-"));
                }
            }
            // The session holding the backup went with the failure: PostgreSQL ended the backup itself.
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .until(() -> count(source.serverLog(), ABORTED) > abortsBefore);
        } finally {
            Tmpfs.unmount(small);
        }
        // And the next backup works.
        var again = pgwarden.cli("backup", "--kind", "base");
        assertThat(again.exitCode()).as(again.stderr()).isZero();
    }

    @Test
    @Order(4)
    void aCopyPastItsTimeoutIsStoppedAndTheServersBackupEnded() throws Exception {
        Path sparse = plantLargeFile();
        int abortsBefore = count(source.serverLog(), ABORTED);
        try {
            String yaml = Files.readString(pgwarden.configFile());
            Path file = dir.resolve("timeout.yml");
            Files.writeString(file, yaml.replace("dataDirectory: " + source.dataDir() + "}", "dataDirectory: " + source.dataDir() + ", timeout: 3s}"));
            PgwardenConfig config = ConfigLoader.load(file);
            assertThat(config.cluster("main").baseBackup().timeout()).isEqualTo(java.time.Duration.ofSeconds(3));
            List<String> before = pgwarden.repositoryKeys("main/base/");
            long start = System.nanoTime();
            assertThatThrownBy(() -> service(config, storage).backup("main", new ProcessToolRunner(io.pgwarden.config.RunnerConfig.DEFAULT_BIN_DIR)))
                    .hasMessageContaining("did not finish within baseBackup.timeout (3s)");
            assertThat(java.time.Duration.ofNanos(System.nanoTime() - start)).isLessThan(java.time.Duration.ofSeconds(30));
            assertThat(pgwarden.repositoryKeys("main/base/")).isEqualTo(before);
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .until(() -> count(source.serverLog(), ABORTED) > abortsBefore);
        } finally {
            Files.deleteIfExists(sparse);
        }
        var again = pgwarden.cli("backup", "--kind", "base");
        assertThat(again.exitCode()).as(again.stderr()).isZero();
    }

    @Test
    @Order(5)
    void killedMidCopyTheDaemonLeavesNoBackupAndTheServerEndsItsBackup() throws Exception {
        Path sparse = plantLargeFile();
        Path killDir = Files.createDirectories(dir.resolve("kill"));
        int port = TestDirs.freePort();
        Path config = PgwardenFixture.writeConfig(killDir, "127.0.0.1:" + port, PgwardenFixture.filesystemRepositoryYaml(killDir.resolve("repo")),
                "instance: files-kill", """
                connection: {host: 127.0.0.1, port: %d, user: postgres}
                baseBackup: {method: files, dataDirectory: %s}
                """.formatted(source.port(), source.dataDir()));
        Process daemon = io.pgwarden.it.support.Launcher.startDaemon(config, killDir.resolve("daemon.log"), port);
        try {
            int abortsBefore = count(source.serverLog(), ABORTED);
            String id = new com.fasterxml.jackson.databind.ObjectMapper().readTree(admin(port, "POST", "/v1/clusters/main/backups?kind=base", 202))
                    .get("id").asText();
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
                    .until(() -> source.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgwarden' AND state = 'idle'").equals("1"));
            Thread.sleep(2000); // into the 64 GiB file
            daemon.destroyForcibly().waitFor(); // SIGKILL
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .until(() -> count(source.serverLog(), ABORTED) > abortsBefore);
            daemon = io.pgwarden.it.support.Launcher.startDaemon(config, killDir.resolve("daemon.log"), port);
            // A daemon of its own (no shared run book) forgets runs at restart, and says so; the repository shows no backup.
            assertThat(admin(port, "GET", "/v1/clusters/main/runs/" + id, 404)).contains("runs are kept in memory until the daemon restarts");
            var list = io.pgwarden.it.support.Launcher.run("list", "--config", config.toString(), "--cluster", "main");
            assertThat(list.exitCode()).as(list.stderr()).isZero();
            assertThat(list.stdout()).doesNotContain(id);
            // Only the cut upload's temp file is left, for garbage collection past repository.garbageGrace (KillNineTest).
            try (var files = Files.walk(killDir.resolve("repo"))) {
                assertThat(files.filter(Files::isRegularFile).map(f -> f.getFileName().toString())).allMatch(f -> f.startsWith(".base.tar.zst.tmp-"));
            }
        } finally {
            daemon.destroyForcibly().waitFor();
            Files.deleteIfExists(sparse);
        }
    }

    @Test
    @Order(6)
    void aPageThatFailsItsChecksumIsRefusedNamingItsFileAndBlock() throws Exception {
        assertThat(source.query("SHOW data_checksums")).isEqualTo("on");
        // Few rows, so that autovacuum leaves the table alone and its page stays clean in shared buffers: the damage on
        // disk is what the backup reads.
        source.sql("CREATE TABLE victim AS SELECT g, md5(g::text) AS pad FROM generate_series(1, 40) g", "CHECKPOINT");
        String file = source.query("SELECT pg_relation_filepath('victim')");
        Path relation = source.dataDir().resolve(file);
        byte[] original = Files.readAllBytes(relation);
        byte[] damaged = original.clone();
        damaged[6000] ^= 0x55;
        List<String> before = pgwarden.repositoryKeys("main/base/");
        Files.write(relation, damaged);
        try {
            assertThatThrownBy(() -> service(pgwarden.config(), storage).backup("main", new ProcessToolRunner(io.pgwarden.config.RunnerConfig.DEFAULT_BIN_DIR)))
                    .hasMessageContaining("1 page(s) failed their checksum (read twice): " + file + " block 0;")
                    .hasMessageContaining("nothing was stored");
            assertThat(pgwarden.repositoryKeys("main/base/")).isEqualTo(before);
        } finally {
            Files.write(relation, original);
        }
        var again = pgwarden.cli("backup", "--kind", "base");
        assertThat(again.exitCode()).as(again.stderr()).isZero();
    }

    private static String admin(int port, String method, String path, int status) throws Exception {
        var r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + path))
                .header("Authorization", "Bearer " + PgwardenFixture.ADMIN_TOKEN).method(method, java.net.http.HttpRequest.BodyPublishers.noBody())
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        return r.body();
    }

    /** A real file, large and sparse: reading it takes far longer than a copy should (a runaway file in the data directory). */
    private Path plantLargeFile() {
        Path sparse = source.dataDir().resolve("pgwarden-sparse");
        Processes.checked(Processes.run(List.of("truncate", "-s", "64G", sparse.toString()), null), "truncate");
        return sparse;
    }

    private static int count(String text, String what) {
        return text.split(java.util.regex.Pattern.quote(what), -1).length - 1;
    }

    private PgwardenConfig configWith(Path file, String replacement, String name) throws Exception {
        String yaml = Files.readString(file);
        String changed = replacement.startsWith("dataDirectory: ")
                ? yaml.replace("dataDirectory: " + source.dataDir(), replacement)
                : yaml.replace("path: " + dir.resolve("repo"), replacement);
        assertThat(changed).isNotEqualTo(yaml);
        Path config = dir.resolve(name);
        Files.writeString(config, changed);
        return ConfigLoader.load(config);
    }

    private static BaseBackupService service(PgwardenConfig config, StorageDriver storage) {
        return new BaseBackupService(config, storage, new WalRepository(storage, config.repository()), new ClusterInfoStore(storage),
                Clock.systemUTC());
    }
}
