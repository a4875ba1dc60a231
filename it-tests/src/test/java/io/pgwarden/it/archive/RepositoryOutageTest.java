package io.pgwarden.it.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The S3 server goes away: pushes answer 503, PostgreSQL keeps retrying, and once S3 is back nothing is missing. */
class RepositoryOutageTest {
    Path dir;
    S3Server s3;
    PgwardenFixture pgwarden;
    PgCluster source;

    @AfterEach
    void stop() throws Exception {
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        if (s3 != null) s3.close();
        TestDirs.delete(dir);
    }

    @Test
    void pushesAnswer503WhileS3IsDownAndPostgresRetriesSucceedAfterwards() throws Exception {
        dir = TestDirs.create("pgwarden-outage-");
        s3 = new S3Server().start();
        s3.createBucket("pg-backups");
        pgwarden = PgwardenFixture.start(dir, s3.repositoryYaml("pg-backups", "outage"), "");
        source = PgCluster.init(dir, "source", 1)
                .configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'", "wal_keep_size = '1GB'")
                .start();
        List<String> segments = new ArrayList<>();
        source.sql("CREATE TABLE t (id serial, pad text)");
        segments.add(switchAfterWrites());
        source.awaitArchived(segments.get(0), Duration.ofMinutes(1));

        s3.stop();
        var refused = pgwarden.put("00000002.history", "1\t0/5000000\tno recovery target specified\n".getBytes());
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.body()).startsWith("cannot ").contains("s3://pg-backups/outage/main/wal/00000002/00000002.history.zst");
        // /ready answers from a background check (every 2 s): it turns within seconds, and says no more than "not ready".
        await().atMost(Duration.ofSeconds(15)).until(() -> pgwarden.getText("/ready").statusCode() == 503);
        assertThat(pgwarden.getText("/ready").body()).isEqualTo("not ready\n");
        for (int i = 0; i < 5; i++) segments.add(switchAfterWrites());
        await().atMost(Duration.ofMinutes(1)).until(() -> Long.parseLong(source.query("SELECT failed_count FROM pg_stat_archiver")) >= 1);

        s3.start(); // same port, same content
        await().atMost(Duration.ofSeconds(15)).until(() -> pgwarden.getText("/ready").statusCode() == 200);
        // PostgreSQL pauses a minute after three failed attempts in a row: allow for one such pause.
        source.awaitArchived(segments.get(segments.size() - 1), Duration.ofMinutes(3));
        for (String segment : segments) {
            byte[] original = Files.readAllBytes(source.dataDir().resolve("pg_wal").resolve(segment));
            var fetched = pgwarden.get(segment);
            assertThat(fetched.statusCode()).as(segment).isEqualTo(200);
            assertThat(fetched.body()).as(segment).isEqualTo(original);
        }
        assertThat(pgwarden.walKeys()).doesNotContain("main/wal/00000002/00000002.history.zst");
    }

    private String switchAfterWrites() throws Exception {
        source.sql("INSERT INTO t (pad) SELECT repeat('x', 200) FROM generate_series(1, 2000)");
        String segment = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
        source.query("SELECT pg_switch_wal()");
        return segment;
    }

}
