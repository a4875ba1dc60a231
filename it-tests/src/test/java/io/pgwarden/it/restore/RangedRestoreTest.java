package io.pgwarden.it.restore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.jobs.JobState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A restore downloads a base backup larger than one range (16 MB of random bytes, which zstd cannot shrink) as byte
 * ranges several at once, and the restored server holds exactly the rows backed up. S3Proxy counts the ranged GETs
 * and how many it answered at once; its GETs are slowed by 100 ms (a latency injector: loopback has none) so that
 * ranges in flight together overlap there.
 */
class RangedRestoreTest {
    private static final String ROWS = "SELECT count(*) || ':' || md5(string_agg(md5(b), ',' ORDER BY id)) FROM r";

    @Test
    void aBackupLargerThanARangeIsRestoredFromRangesFetchedSeveralAtOnce() throws Exception {
        Path dir = TestDirs.create("pgwarden-ranged-restore-");
        try (S3Server s3 = new S3Server().start(); PgCluster pg = PgCluster.init(dir, "pg", 16)) {
            s3.createBucket("ranged");
            try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, s3.repositoryYaml("ranged", "c"), "",
                    "connection: {host: 127.0.0.1, port: %d, user: postgres}".formatted(pg.port()))) {
                pg.configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'").start();
                pg.query("CREATE EXTENSION pgcrypto");
                pg.query("CREATE TABLE r (id int, b bytea)");
                pg.query("INSERT INTO r SELECT i, gen_random_bytes(1024) FROM generate_series(1, 16000) i");
                String backedUp = pg.query(ROWS);
                var run = pgwarden.daemon().jobs().run(new JobRequest("main", JobKind.BASE, Optional.empty(), "test"));
                assertThat(run.state()).as(String.valueOf(run.error())).isEqualTo(JobState.SUCCEEDED);
                pg.awaitArchived(pg.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));

                s3.slowGets(Duration.ofMillis(100), 0);
                Path restored = dir.resolve("restored");
                var r = Launcher.run("restore", "--config", pgwarden.configFile().toString(), "--cluster", "main", "--latest",
                        "--target-dir", restored.toString());
                assertThat(r.exitCode()).as(r.stderr()).isZero();
                System.out.println("ranged GETs of the restore: " + s3.rangedGets() + ", at most " + s3.mostRangedGetsAtOnce() + " at once");
                assertThat(s3.rangedGets()).as("GETs of 4 MiB ranges of a 16 MB backup").isGreaterThanOrEqualTo(4);
                assertThat(s3.mostRangedGetsAtOnce()).as("ranges in flight at once").isBetween(2, 4);

                Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", restored.toString()), null), "chown");
                try (PgCluster copy = PgCluster.existing(dir, restored, "restored")) {
                    copy.configure("archive_mode = off").start();
                    await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(300))
                            .until(() -> copy.query("SELECT pg_is_in_recovery()").equals("f"));
                    assertThat(copy.query(ROWS)).isEqualTo(backedUp);
                }
            }
        } finally {
            TestDirs.delete(dir);
        }
    }
}
