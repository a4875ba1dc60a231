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
 * Not a test: a full base backup and an incremental one of PostgreSQL 17 (pgbench scale -Dbench.scale, default 100, in
 * a container; pg_basebackup in sidecars), with about 1 % of pgbench_accounts updated in between by pgbench's own
 * TPC-B transactions (scale x 1,000 of them, each updating one random account), into a filesystem repository. Reports
 * the incremental's raw and stored bytes and its time as ratios to the full backup's, measured in the same run.
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
            Path config = dir.resolve("pgwarden.yml");
            Files.writeString(config, """
                    server:
                      listen: 0.0.0.0:%d
                      adminToken: %s
                      instance: bench-incremental
                      allowPlaintext: true
                    %s
                    clusters:
                      main:
                        walToken: %s
                        connection: {host: 127.0.0.1, port: %d, user: postgres, password: "%s"}
                        runner: {type: docker, image: "local/postgres:{major}", network: host, pull: never}
                    """.formatted(port, PgwardenFixture.ADMIN_TOKEN, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")),
                    PgwardenFixture.TOKEN, pg.port(), PASSWORD));
            pg.psql().query("postgres", "ALTER SYSTEM SET summarize_wal = on");
            pg.psql().query("postgres", "SELECT pg_reload_conf()");
            pgbench(pg, "-i", "-s", Integer.toString(SCALE), "-q");
            try (PgwardenFixture pgwarden = PgwardenFixture.startWithConfig(dir, config)) {
                BaseBackupManifest full = backup(pgwarden, "base");
                pgbench(pg, "-n", "-t", Integer.toString(SCALE * 1000));
                BaseBackupManifest incremental = backup(pgwarden, "incremental");
                assertThat(incremental.parentId()).isEqualTo(full.backupId());
                double fullSeconds = Duration.between(full.startTime(), full.stopTime()).toMillis() / 1e3;
                double incSeconds = Duration.between(incremental.startTime(), incremental.stopTime()).toMillis() / 1e3;
                String text = """
                        Incremental base backup, PostgreSQL 17, pgbench scale %d, %d TPC-B transactions (about 1 %% of the accounts
                        updated) between a full backup and an incremental one; sidecars, filesystem repository, zstd level 1
                          full:         raw %,14d bytes  stored %,12d bytes  %6.1f s
                          incremental:  raw %,14d bytes  stored %,12d bytes  %6.1f s
                          incremental / full: raw %.3fx, stored %.3fx, time %.2fx
                        """.formatted(SCALE, SCALE * 1000, full.rawBytes(), full.storedBytes(), fullSeconds, incremental.rawBytes(),
                        incremental.storedBytes(), incSeconds, (double) incremental.rawBytes() / full.rawBytes(),
                        (double) incremental.storedBytes() / full.storedBytes(), incSeconds / fullSeconds);
                System.out.print(text);
                Files.createDirectories(Path.of("target/bench"));
                Files.writeString(Path.of("target/bench/incremental.txt"), text);
            }
        } finally {
            TestDirs.delete(dir);
        }
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
