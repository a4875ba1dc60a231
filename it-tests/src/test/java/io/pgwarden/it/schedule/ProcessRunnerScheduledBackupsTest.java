package io.pgwarden.it.schedule;

import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Psql;
import io.pgwarden.it.support.TestDirs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The scheduled backups with the process runner against a PostgreSQL from the host's binaries. */
class ProcessRunnerScheduledBackupsTest extends ScheduledBackupsEndToEnd {
    PgCluster source;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-sched-proc-");
        int port = TestDirs.freePort();
        source = PgCluster.init(dir, "source", 16);
        source.configure("archive_mode = on", "archive_command = '" + PgwardenFixture.archiveCommandWithHeaderFile(dir, port) + "'").start();
        source.requirePassword(PASSWORD);
        seed();
        pgwarden = PgwardenFixture.start(dir, "127.0.0.1:" + port, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "",
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres, password: \"" + PASSWORD + "\"}\n"
                        + schedulesYaml());
    }

    @Override
    Psql server() {
        return new Psql("127.0.0.1", source.port(), PASSWORD);
    }

    @AfterAll
    void stop() {
        if (pgwarden != null) pgwarden.close();
        if (source != null) source.close();
        TestDirs.delete(dir);
    }
}
