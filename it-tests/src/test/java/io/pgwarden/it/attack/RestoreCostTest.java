package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.jobs.JobState;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgContainer;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A restore reads the WAL it needs, not the whole archive: the cluster's history lies in thousands of WAL objects
 * archived before its newest base backup (its server started at WAL file 0A00000000 with 2,560 files of an earlier
 * life archived), and planning a restore, restoring it and staging its WAL into a Docker volume make S3Proxy list
 * only a handful of keys, where each once listed every WAL object of the cluster (a million on a busy cluster: a
 * restore that spent its first hour listing). Counted by the S3 server itself; the restored rows are exact.
 */
class RestoreCostTest {
    private static final String BUCKET = "cost";
    private static final int EARLIER = 10 * 256;

    @Test
    void aRestoreListsOnlyTheWalAfterItsBaseBackup() throws Exception {
        Path dir = TestDirs.create("pgwarden-restore-cost-");
        try (S3Server s3 = new S3Server().start(); PgCluster pg = PgCluster.init(dir, "pg", 16)) {
            s3.createBucket(BUCKET);
            // The server's WAL begins at 000000010000000A00000000; the 2,560 files before it are in the archive.
            Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pg_resetwal").toString(), "-l", "000000010000000A00000000",
                    pg.dataDir().toString()), "pg_resetwal");
            for (int i = 0; i < EARLIER; i++) {
                String name = "00000001%08X%08X".formatted(i / 256, i % 256);
                s3.putInStore(BUCKET, "c/main/wal/00000001/" + name + ".zst", new byte[] {1}, Map.of());
            }
            try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, s3.repositoryYaml(BUCKET, "c"), "",
                    "connection: {host: 127.0.0.1, port: %d, user: postgres}".formatted(pg.port()))) {
                pg.configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'").start();
                pg.query("CREATE TABLE t (id int)");
                var run = pgwarden.daemon().jobs().run(new JobRequest("main", JobKind.BASE, Optional.empty(), "test"));
                assertThat(run.state()).as(String.valueOf(run.error())).isEqualTo(JobState.SUCCEEDED);
                pg.query("INSERT INTO t SELECT generate_series(1, 100)");
                Thread.sleep(1100);
                Instant target = Instant.parse(pg.query("SELECT to_json(clock_timestamp())#>>'{}'"));
                Thread.sleep(1100);
                pg.query("INSERT INTO t SELECT generate_series(101, 150)");
                pg.awaitArchived(pg.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
                settled(s3);

                long before = s3.keysListed();
                var plan = Launcher.run("restore", "--config", pgwarden.configFile().toString(), "--cluster", "main", "--target-time",
                        target.toString(), "--dry-run");
                assertThat(plan.exitCode()).as(plan.stderr()).isZero();
                assertThat(plan.stdout()).contains("timeline:      1").contains("000000010000000A");
                long planned = s3.keysListed() - before;
                System.out.println("keys S3Proxy listed to plan the restore: " + planned + " (WAL files archived before the backup: " + EARLIER + ")");
                assertThat(planned).as("keys listed to plan the restore").isLessThan(EARLIER / 10);

                Path restored = dir.resolve("restored");
                before = s3.keysListed();
                var r = Launcher.run("restore", "--config", pgwarden.configFile().toString(), "--cluster", "main", "--target-time",
                        target.toString(), "--target-dir", restored.toString());
                assertThat(r.exitCode()).as(r.stderr()).isZero();
                assertThat(s3.keysListed() - before).as("keys listed to restore into a directory").isLessThan(EARLIER / 10);
                Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", restored.toString()), null), "chown");
                try (PgCluster copy = PgCluster.existing(dir, restored, "restored")) {
                    copy.configure("archive_mode = off").start();
                    await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(300))
                            .until(() -> copy.query("SELECT pg_is_in_recovery()").equals("f"));
                    assertThat(copy.query("SELECT count(*) || ':' || max(id) FROM t")).isEqualTo("100:100");
                }

                if (PgContainer.imagePresent()) {
                    // The Docker runner stages the plan's WAL into the new volume: from the backup's start on, too.
                    Path dockerConfig = dir.resolve("docker-runner.yml");
                    java.nio.file.Files.writeString(dockerConfig, java.nio.file.Files.readString(pgwarden.configFile()).replace("    connection:",
                            "    runner: {type: docker, image: \"local/postgres:{major}\", network: host, pull: never}\n    connection:"));
                    before = s3.keysListed();
                    var v = Launcher.run("restore", "--config", dockerConfig.toString(), "--cluster", "main", "--target-time", target.toString(),
                            "--start", "--port", Integer.toString(TestDirs.freePort()), "--archive-mode", "off");
                    var names = java.util.regex.Pattern.compile("started in container (\\S+) on volume (\\S+),").matcher(v.stdout());
                    assertThat(names.find()).as(v.stdout() + v.stderr()).isTrue();
                    try {
                        assertThat(v.exitCode()).as(v.stderr()).isZero();
                        assertThat(s3.keysListed() - before).as("keys listed to restore into a volume").isLessThan(EARLIER / 10);
                        var rows = Processes.checked(Processes.run(List.of("docker", "exec", "-u", "postgres", names.group(1), "psql", "-X", "-At",
                                "-h", "/pgwarden-restore", "-d", "postgres", "-c", "SELECT count(*) || ':' || max(id) FROM t"), null), "psql");
                        assertThat(rows.stdout().strip()).isEqualTo("100:100");
                    } finally {
                        Processes.run(List.of("docker", "rm", "-f", names.group(1)), null);
                        Processes.run(List.of("docker", "volume", "rm", names.group(2)), null);
                    }
                }
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    /** The daemon's own start-up listing (the repository's size) is over once the count stops moving. */
    private static void settled(S3Server s3) {
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            long before = s3.keysListed();
            Thread.sleep(500);
            return s3.keysListed() == before;
        });
    }
}
