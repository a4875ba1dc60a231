package io.pgwarden.it.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgwarden.it.support.PgContainer;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: a full base backup and two incremental ones of PostgreSQL 17 (pgbench scale -Dbench.scale, default 100,
 * in a container; pg_basebackup in sidecars), into a filesystem repository. Before the first incremental, pgbench's own
 * TPC-B transactions (scale x 1,000 of them, each updating one random account: about 1 % of the accounts, spread over
 * the whole table); before the second, one UPDATE of 1 % of the accounts in one range of keys (recent rows). Reports
 * each incremental's raw and stored bytes and its time as ratios to the full backup's, measured in the same run.
 * Run: cd it-tests && ../mvnw -B verify -Pbench -Dtest=IncrementalBackupBenchmark -Dsurefire.failIfNoSpecifiedTests=false
 * Report in it-tests/target/bench/incremental.txt.
 */
@Tag("benchmark")
class IncrementalBackupBenchmark {
    private static final int SCALE = Integer.getInteger("bench.scale", 100);
    private static final String PASSWORD = "bench-pw";

    @Test
    void anIncrementalAfterOnePercentOfTheAccountsChanged() throws Exception {
        Path dir = TestDirs.create("pgwarden-bench-incremental-");
        int port = TestDirs.freePort();
        try (PgContainer pg = PgContainer.start(17, PASSWORD, PgwardenFixture.archiveCommandFromContainer(port), List.of())) {
            Path config = PgwardenFixture.writeContainerClusterConfig(dir, port, "bench-incremental", "main", pg, PASSWORD);
            pg.psql().query("postgres", "ALTER SYSTEM SET summarize_wal = on");
            pg.psql().query("postgres", "SELECT pg_reload_conf()");
            pgbench(pg, "-i", "-s", Integer.toString(SCALE), "-q");
            try (PgwardenFixture pgwarden = PgwardenFixture.startWithConfig(dir, config)) {
                BaseBackupManifest full = backup(pgwarden, "base");
                pgbench(pg, "-n", "-t", Integer.toString(SCALE * 1000));
                BaseBackupManifest spread = backup(pgwarden, "incremental");
                assertThat(spread.parentId()).isEqualTo(full.backupId());
                pg.psql().query("postgres", "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= " + SCALE * 1000);
                BaseBackupManifest range = backup(pgwarden, "incremental");
                assertThat(range.parentId()).isEqualTo(spread.backupId());
                String text = """
                        Incremental base backups, PostgreSQL 17, pgbench scale %d; sidecars, filesystem repository, zstd level 1
                          full:                                        %s
                          incremental, %d TPC-B transactions (1 %% of the accounts, spread): %s
                          incremental, 1 %% of the accounts in one key range:             %s
                        """.formatted(SCALE, describe(full, full), SCALE * 1000, describe(spread, full), describe(range, full));
                System.out.print(text);
                Files.createDirectories(Path.of("target/bench"));
                Files.writeString(Path.of("target/bench/incremental.txt"), text);
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    private static String describe(BaseBackupManifest b, BaseBackupManifest full) {
        double seconds = seconds(b);
        return "raw %,d bytes, stored %,d bytes, %.1f s".formatted(b.rawBytes(), b.storedBytes(), seconds) + (b == full ? ""
                : " = %.3fx raw, %.3fx stored, %.2fx time of the full one".formatted((double) b.rawBytes() / full.rawBytes(),
                (double) b.storedBytes() / full.storedBytes(), seconds / seconds(full)));
    }

    private static double seconds(BaseBackupManifest b) {
        return Duration.between(b.startTime(), b.stopTime()).toMillis() / 1e3;
    }

    private static void pgbench(PgContainer pg, String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of("docker", "exec", "-u", "postgres", "-e", "PGPASSWORD=" + PASSWORD, pg.name(),
                "pgbench", "-h", "/tmp", "-U", "postgres"));
        cmd.addAll(List.of(args));
        cmd.add("postgres");
        Processes.checked(Processes.run(cmd, null), "pgbench");
    }

    private static BaseBackupManifest backup(PgwardenFixture pgwarden, String kind) throws Exception {
        JsonNode run = pgwarden.startAndAwait("/v1/clusters/main/backups?kind=" + kind, null, "/v1/clusters/main/runs/", Duration.ofMinutes(30));
        assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("succeeded");
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository());
             var object = storage.get("main/base/" + run.get("id").asText() + "/manifest.json").orElseThrow()) {
            return RepositoryJson.MAPPER.readValue(object.content(), BaseBackupManifest.class);
        }
    }
}
