package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.TestDirs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A WAL-token holder pushing .history and .backup files PostgreSQL could not have written: each is refused with 400
 * before it is stored (an archived file is never overwritten, so one stored would stay forever), and a "latest"
 * restore still plans onto the real timeline. A history file PostgreSQL does write is accepted.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileHistoryFilesTest {
    Path dir;
    PgCluster source;
    PgwardenFixture pgwarden;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-history-");
        source = PgCluster.init(dir, "source", 16);
        pgwarden = PgwardenFixture.archiving(dir, source, "", "");
        pgwarden.baseBackup();
        source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
    }

    @AfterAll
    void stop() {
        if (pgwarden != null) pgwarden.close();
        if (source != null) source.close();
        TestDirs.delete(dir);
    }

    @Test
    void historyFilesPostgresqlCouldNotHaveWrittenAreRefusedAndLatestStillRestores() throws Exception {
        assertRefused("7FFFFFFF.history", "1\t0/3000000\tno recovery target specified\n",
                "its parent is timeline 1, but timeline 2147483646 has no archived history file");
        assertRefused("00000005.history", "7\t0/3000000\tx\n", "parent timeline 7 is out of order");
        assertRefused("00000002.history", "\u0000\u0001binary", "it is not text");
        assertRefused("00000002.history", "# only a comment\n", "it names no parent timeline");
        assertRefused("0000000100000000000000A0.00000028.backup", "START WAL LOCATION: 0/5000028 (file 000000010000000000000005)\n"
                + "START TIMELINE: 1\nSTOP WAL LOCATION: 0/5000100 (file 000000010000000000000005)\n",
                "its START WAL LOCATION is in '000000010000000000000005', not in the file it names");
        assertRefused("0000000100000000000000A0.00000028.backup", "not a label", "has no 'START WAL LOCATION' line");
        assertThat(pgwarden.walKeys()).noneMatch(k -> k.contains("7FFFFFFF") || k.contains("00000005.history") || k.contains("00000002.history"));

        var plan = pgwarden.cli("restore", "--latest", "--dry-run");
        assertThat(plan.exitCode()).as(plan.stderr()).isEqualTo(0);
        assertThat(plan.stdout()).contains("timeline:      1");

        // What a promotion writes is stored.
        var real = pgwarden.put("00000002.history", "1\t0/9000000\tno recovery target specified\n".getBytes(StandardCharsets.UTF_8));
        assertThat(real.statusCode()).as(real.body()).isEqualTo(201);
    }

    private void assertRefused(String name, String content, String why) throws Exception {
        var r = pgwarden.put(name, content.getBytes(StandardCharsets.UTF_8));
        assertThat(r.statusCode()).as(name + ": " + r.body()).isEqualTo(400);
        assertThat(r.body()).startsWith("'" + name + "' is not a history file PostgreSQL could have written: ").contains(why)
                .endsWith("nothing was stored\n");
        assertThat(pgwarden.get(name).statusCode()).isEqualTo(404);
    }
}
