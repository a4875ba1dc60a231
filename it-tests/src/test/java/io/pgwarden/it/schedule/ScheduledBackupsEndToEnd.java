package io.pgwarden.it.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.luben.zstd.ZstdInputStream;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.Psql;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The daemon's own schedule (a cron that fires within the test) takes a base backup and dumps of a real
 * PostgreSQL 15; the dump restores into a scratch database with identical row counts per table; the base backup,
 * unpacked with the archived WAL, starts as a PostgreSQL server and shows the data as of the backup.
 * Subclasses provide the server and the runner (host processes, or Docker sidecars in the server's namespace).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ScheduledBackupsEndToEnd {
    static final String PASSWORD = "seed-Pa55word";

    Path dir;
    PgwardenFixture pgwarden;
    StorageDriver storage;

    /** The server under backup, reachable from this JVM. */
    abstract Psql server();

    @AfterAll
    void closeRepository() {
        if (storage != null) storage.close();
    }

    /** Creates the data the backups must carry: an application database with two tables, a role, a note in postgres. */
    void seed() {
        Psql pg = server();
        pg.query("postgres", "CREATE ROLE app_owner LOGIN");
        pg.query("postgres", "CREATE DATABASE appdb OWNER app_owner");
        pg.query("appdb", "CREATE TABLE orders AS SELECT g AS id, now() AS at, md5(g::text) AS pad FROM generate_series(1, 20000) g");
        pg.query("appdb", "CREATE TABLE customers (id int PRIMARY KEY, name text)");
        pg.query("appdb", "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 750) g");
        pg.query("postgres", "CREATE TABLE notes AS SELECT g AS id FROM generate_series(1, 123) g");
    }

    /** A 5-field cron for one minute that starts 15 to 75 seconds from now: the schedule fires once during the test. */
    static String cronForTheComingMinute() {
        LocalDateTime at = LocalDateTime.now().plusSeconds(75).truncatedTo(ChronoUnit.MINUTES);
        return at.getMinute() + " " + at.getHour() + " * * *";
    }

    static String schedulesYaml() {
        String cron = cronForTheComingMinute();
        return "schedules: {base: \"" + cron + "\", dump: \"" + cron + "\", verify: \"" + cron + "\"}\n";
    }

    @Test
    void theScheduleTakesABaseBackupAndDumpsThatRestore() throws Exception {
        storage = StorageFactory.create(pgwarden.config().repository());
        Catalog catalog = new Catalog(storage);
        // Both kinds fire at the same minute and run side by side (one of each kind at most).
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(2)).until(() ->
                catalog.baseBackups("main").size() == 1 && catalog.dumps("main").size() == 3);
        server().query("appdb", "INSERT INTO orders SELECT g, now(), 'after the backup' FROM generate_series(1, 999) g");
        server().query("postgres", "SELECT pg_switch_wal()");

        BaseBackupManifest base = catalog.baseBackups("main").get(0);
        List<DumpManifest> dumps = catalog.dumps("main");
        assertThat(dumps).extracting(DumpManifest::database).containsExactly(null, "appdb", "postgres");
        assertThat(dumps).allSatisfy(d -> assertThat(d.dumpId()).isEqualTo(dumps.get(0).dumpId()));
        assertThat(dumps.get(1).toolVersion()).startsWith("pg_dump (PostgreSQL) 15.");
        assertThat(pgwarden.repositoryKeys()).noneMatch(k -> k.startsWith("main/failures/"));

        assertMetrics(base, dumps);
        assertTheGlobalsCarryTheRole(dumps.get(0));
        assertTheDumpRestoresWithIdenticalRowCounts(dumps.get(1));
        assertTheBaseBackupStartsWithTheDataAsOfTheBackup(base);
        assertListShowsTheDumps(dumps.get(1));
        assertRestoreDumpRecreatesTheDatabase(dumps.get(1));
    }

    /** pgwarden restore-dump through the cluster's runner (stdin into pg_restore, in the sidecar for docker). */
    private void assertRestoreDumpRecreatesTheDatabase(DumpManifest appdb) {
        String[] args = {"restore-dump", "--config", pgwarden.configFile().toString(), "--cluster", "main", "--database", "appdb",
                "--target-db", "appdb copy"};
        var r = Launcher.run(args);
        assertThat(r.exitCode()).as(r.stderr() + r.stdout()).isEqualTo(0);
        assertThat(r.stdout()).contains("restoring dump " + appdb.dumpId() + " of database 'appdb'").contains("restored into database 'appdb copy'");
        assertThat(server().rowCounts("appdb copy")).isEqualTo(Map.of("customers", 750L, "orders", 20000L));

        var again = Launcher.run(args);
        assertThat(again.exitCode()).isEqualTo(2);
        assertThat(again.stderr()).contains("database 'appdb copy' already exists in cluster 'main'; choose another --target-db, or --clean");
        server().query("appdb copy", "DELETE FROM orders WHERE id > 100");
        var clean = Launcher.run(java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.stream.Stream.of("--clean"))
                .toArray(String[]::new));
        assertThat(clean.exitCode()).as(clean.stderr()).isEqualTo(0);
        assertThat(server().rowCounts("appdb copy")).isEqualTo(Map.of("customers", 750L, "orders", 20000L));

        var tooEarly = Launcher.run("restore-dump", "--config", pgwarden.configFile().toString(), "--cluster", "main", "--database", "appdb",
                "--before", "2020-01-01T00:00:00Z", "--target-db", "never");
        assertThat(tooEarly.exitCode()).isEqualTo(1);
        assertThat(tooEarly.stderr()).contains("no dump of database 'appdb' in cluster 'main' finished before 2020-01-01T00:00:00Z; the oldest");
    }

    private void assertMetrics(BaseBackupManifest base, List<DumpManifest> dumps) throws Exception {
        assertThat(pgwarden.metric("pgwarden_backup_last_success_timestamp_seconds{cluster=\"main\",database=\"\",kind=\"base\"}"))
                .isGreaterThanOrEqualTo(base.stopTime().getEpochSecond());
        assertThat(pgwarden.metric("pgwarden_backup_size_bytes{cluster=\"main\",database=\"\",kind=\"base\",stage=\"raw\"}"))
                .isEqualTo(base.rawBytes());
        assertThat(pgwarden.metric("pgwarden_backup_size_bytes{cluster=\"main\",database=\"appdb\",kind=\"dump\",stage=\"stored\"}"))
                .isEqualTo(dumps.get(1).storedBytes());
        assertThat(pgwarden.metric("pgwarden_backup_last_success_timestamp_seconds{cluster=\"main\",database=\"appdb\",kind=\"dump\"}"))
                .isGreaterThan(0);
        assertThat(pgwarden.metric("pgwarden_backup_failures_total{cluster=\"main\",kind=\"base\",reason=\"tool\"}")).isZero();
        // The scheduled verify fired in the same minute and found nothing wrong with whatever was committed by then.
        await().atMost(Duration.ofMinutes(1)).until(() ->
                pgwarden.metric("pgwarden_verify_last_success_timestamp_seconds{cluster=\"main\"}") > 0);
        assertThat(pgwarden.metric("pgwarden_verify_failures_total{cluster=\"main\"}")).isZero();
    }

    private void assertTheGlobalsCarryTheRole(DumpManifest globals) throws Exception {
        try (var object = storage.get(globals.dataKey()).orElseThrow(); InputStream in = new ZstdInputStream(object.content())) {
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).contains("CREATE ROLE app_owner;");
        }
    }

    private void assertTheDumpRestoresWithIdenticalRowCounts(DumpManifest appdb) throws Exception {
        Map<String, Long> before = server().rowCounts("appdb");
        server().query("postgres", "CREATE DATABASE scratch");
        try (var object = storage.get(appdb.dataKey()).orElseThrow(); InputStream in = new ZstdInputStream(object.content())) {
            server().restore(in, "scratch");
        }
        // The dump was taken before the 999 rows "after the backup" were added.
        assertThat(server().rowCounts("scratch")).isEqualTo(Map.of("customers", 750L, "orders", 20000L))
                .containsOnlyKeys(before.keySet());
        assertThat(before.get("orders")).isEqualTo(20999L);
    }

    private void assertTheBaseBackupStartsWithTheDataAsOfTheBackup(BaseBackupManifest base) throws Exception {
        Path target = TestDirs.forPostgres(dir, "restored");
        Process tar = new ProcessBuilder("tar", "-x", "-C", target.toString(), "-f", "-").redirectErrorStream(true).start();
        try (var object = storage.get(base.dataKey()).orElseThrow(); InputStream in = new ZstdInputStream(object.content());
             OutputStream out = tar.getOutputStream()) {
            in.transferTo(out);
        }
        assertThat(tar.waitFor()).as(new String(tar.getInputStream().readAllBytes())).isEqualTo(0);
        // The copy is reached through its own socket as postgres, without the source's password rules.
        Files.writeString(target.resolve("pg_hba.conf"), "local all all trust\n");
        Files.writeString(target.resolve("recovery.signal"), "");
        Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", target.toString()), null), "chown");
        Processes.checked(Processes.run(List.of("chmod", "700", target.toString()), null), "chmod");
        try (PgCluster copy = PgCluster.existing(dir, target, "restored")) {
            copy.configure("restore_command = '" + pgwarden.restoreCommand() + "'", "recovery_target = 'immediate'",
                    "recovery_target_action = 'promote'", "archive_mode = off").start();
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(300))
                    .until(() -> copy.query("SELECT pg_is_in_recovery()").equals("f"));
            assertThat(copy.query("SELECT count(*) FROM orders", "appdb")).isEqualTo("20000");
            assertThat(copy.query("SELECT count(*) FROM customers", "appdb")).isEqualTo("750");
            assertThat(copy.query("SELECT count(*) FROM notes")).isEqualTo("123");
        }
    }

    private void assertListShowsTheDumps(DumpManifest appdb) throws Exception {
        var r = Launcher.run("list", "--config", pgwarden.configFile().toString(), "--cluster", "main", "--json");
        assertThat(r.exitCode()).as(r.stderr()).isEqualTo(0);
        JsonNode json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.stdout());
        assertThat(json.get("dumps").findValuesAsText("database")).contains("appdb", "postgres");
        var table = Launcher.run("list", "--config", pgwarden.configFile().toString(), "--cluster", "main");
        assertThat(table.stdout()).contains("dumps: 3").contains(appdb.dumpId()).contains("(globals)");
    }
}
