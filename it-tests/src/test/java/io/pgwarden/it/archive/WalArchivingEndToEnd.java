package io.pgwarden.it.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A real PostgreSQL 15 archives through curl to the daemon; everything comes back byte-identical through GET,
 * through {@code pgwarden wal-fetch}, and as restore_command of a second server. Subclasses pick the repository.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class WalArchivingEndToEnd {
    private static final int SEGMENTS = 50;

    Path dir;
    PgwardenFixture pgwarden;
    PgCluster source;
    final List<String> switched = new ArrayList<>();

    /** The repository: section of pgwarden.yml; start whatever it needs. */
    abstract String repositoryYaml(Path dir) throws Exception;

    void stopRepository() throws Exception {
    }

    @BeforeAll
    void startEverything() throws Exception {
        dir = TestDirs.create("pgwarden-it-");
        pgwarden = PgwardenFixture.start(dir, repositoryYaml(dir), "");
        // 1 MB segments keep 50 segments quick; wal_keep_size keeps the originals in pg_wal to compare with.
        source = PgCluster.init(dir, "source", 1)
                .configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'",
                        "wal_keep_size = '1GB'", "max_wal_size = '1GB'")
                .start();
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        stopRepository();
        TestDirs.delete(dir);
    }

    @Test
    @Order(1)
    void archivesEverySegmentAndServesItBackByteIdentical() throws Exception {
        source.sql("CREATE TABLE t (id bigserial PRIMARY KEY, batch int, pad text)");
        for (int batch = 0; batch < SEGMENTS; batch++) {
            source.sql("INSERT INTO t (batch, pad) SELECT " + batch + ", repeat(md5(g::text), 8) FROM generate_series(1, 1500) g");
            switched.add(source.query("SELECT pg_walfile_name(pg_current_wal_lsn())"));
            source.query("SELECT pg_switch_wal()");
        }
        String last = switched.get(switched.size() - 1);
        source.awaitArchived(last, Duration.ofMinutes(3));
        assertThat(Long.parseLong(source.query("SELECT archived_count FROM pg_stat_archiver"))).isGreaterThanOrEqualTo(SEGMENTS);

        List<String> archived = archivedSegments();
        assertThat(archived).hasSizeGreaterThanOrEqualTo(SEGMENTS).containsAll(switched);
        Path fetched = Files.createDirectories(dir.resolve("fetched"));
        for (String segment : archived) {
            byte[] original = PgwardenFixture.read(source.dataDir().resolve("pg_wal").resolve(segment));
            var response = pgwarden.get(segment);
            assertThat(response.statusCode()).as("GET %s", segment).isEqualTo(200);
            assertThat(response.body()).as("GET %s", segment).isEqualTo(original);

            Path dest = fetched.resolve(segment);
            var result = Launcher.run("wal-fetch", "--config", pgwarden.configFile().toString(), "--cluster", "main", segment, dest.toString());
            assertThat(result.exitCode()).as("wal-fetch %s: %s", segment, result.stderr()).isEqualTo(0);
            assertThat(Files.readAllBytes(dest)).as("wal-fetch %s", segment).isEqualTo(original);
        }
        assertThat(pgwarden.walKeys()).contains("main/wal/00000001/" + switched.get(0) + ".zst");
        assertThat(pgwarden.metric("pgwarden_wal_archived_total{cluster=\"main\"}")).isGreaterThanOrEqualTo(SEGMENTS);
    }

    @Test
    @Order(2)
    void walFetchExitsOneForAFileTheRepositoryDoesNotHave() {
        var result = Launcher.run("wal-fetch", "--config", pgwarden.configFile().toString(), "--cluster", "main",
                "0000000100000000000000FF", dir.resolve("absent").toString());
        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.stderr()).contains("WAL file '0000000100000000000000FF' is not in the repository of cluster 'main'");
        assertThat(dir.resolve("absent")).doesNotExist();
    }

    /** PostgreSQL would read the JVM's own exit 1 as "not in the archive" and end a recovery early, promoting it there. */
    @Test
    @Order(2)
    void walFetchWhoseJavaRuntimeCannotStartExitsAboveOneTwentyFive() {
        String archived = pgwarden.walKeys().get(0).replaceAll(".*/([0-9A-F]{24}).*", "$1");
        var result = Processes.run(List.of(Launcher.executable().toString(), "wal-fetch", "--config", pgwarden.configFile().toString(),
                "--cluster", "main", archived, dir.resolve("no-jvm").toString()), null, java.util.Map.of("PGWARDEN_JAVA_OPTS", "-Xmx1k"));
        assertThat(result.exitCode()).as(result.stderr()).isEqualTo(126);
        assertThat(result.stdout() + result.stderr()).contains("Too small maximum heap").contains("the Java runtime failed (exit 1)");
        assertThat(dir.resolve("no-jvm")).doesNotExist();
    }

    @Test
    @Order(3)
    void restoreCommandRecoversABaseBackupToTheSameRows() throws Exception {
        Path backup = TestDirs.forPostgres(dir, "backups").resolve("restored"); // pg_basebackup creates it 0700
        Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pg_basebackup").toString(), "-h", "127.0.0.1",
                "-p", Integer.toString(source.port()), "-U", "postgres", "-D", backup.toString(), "-X", "none", "-c", "fast"), "pg_basebackup");
        // Writes after the backup exist only in archived WAL.
        source.sql("CREATE TABLE after_backup AS SELECT g AS id FROM generate_series(1, 12345) g",
                "INSERT INTO t (batch, pad) SELECT -1, 'late' FROM generate_series(1, 777)");
        String lastAfter = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
        source.query("SELECT pg_switch_wal()");
        source.awaitArchived(lastAfter, Duration.ofMinutes(3));

        Files.writeString(backup.resolve("recovery.signal"), "");
        try (PgCluster restored = PgCluster.existing(dir, backup, "restored")) {
            restored.configure("restore_command = '" + pgwarden.restoreCommand() + "'", "archive_mode = off").start();
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(300))
                    .until(() -> restored.query("SELECT pg_is_in_recovery()").equals("f"));
            assertThat(restored.query("SELECT count(*) FROM t")).isEqualTo(source.query("SELECT count(*) FROM t"));
            assertThat(restored.query("SELECT count(*) FROM after_backup")).isEqualTo("12345");
            assertThat(restored.query("SELECT count(*) FROM t WHERE batch = -1")).isEqualTo("777");
        }
    }

    /** Segments PostgreSQL marked as archived (archive_status/*.done). */
    List<String> archivedSegments() throws Exception {
        try (var files = Files.list(source.dataDir().resolve("pg_wal/archive_status"))) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.matches("[0-9A-F]{24}\\.done"))
                    .map(n -> n.substring(0, 24)).sorted().toList();
        }
    }

}
