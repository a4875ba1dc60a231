package io.pgwarden.it.schedule;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgwarden.it.support.PgContainer;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Psql;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The seed's scenario: PostgreSQL 15 in a container with a named volume, archive_command pushing to the daemon on
 * the host, the repository on S3 (S3Proxy); the daemon's tools run in Docker sidecars that share the server
 * container's network namespace (network container:NAME, server at 127.0.0.1:5432 from inside).
 */
class SeedScenarioScheduledBackupsTest extends ScheduledBackupsEndToEnd {
    PgContainer postgres;
    S3Server s3;

    @BeforeAll
    void start() throws Exception {
        assumeTrue(PgContainer.imagePresent(), "no local image " + PgContainer.IMAGE + " (it-tests/images/build-images.sh builds it)");
        dir = TestDirs.create("pgwarden-sched-seed-");
        int port = TestDirs.freePort();
        postgres = PgContainer.start(PASSWORD, PgwardenFixture.archiveCommandFromContainer(port));
        seed();
        s3 = new S3Server().start();
        s3.createBucket("pg-backups");
        pgwarden = PgwardenFixture.start(dir, "0.0.0.0:" + port, s3.repositoryYaml("pg-backups", "seed"), "instance: it-seed\nallowPlaintext: true",
                "connection: {host: 127.0.0.1, port: " + postgres.port() + ", user: postgres, password: \"" + PASSWORD + "\"}\n"
                        + "runner: {type: docker, image: \"local/postgres:{major}\", network: \"container:" + postgres.name()
                        + "\", pull: never, pgHost: 127.0.0.1, pgPort: 5432}\n" + schedulesYaml());
    }

    @Override
    Psql server() {
        return postgres.psql();
    }

    @AfterAll
    void stop() throws Exception {
        if (pgwarden != null) pgwarden.close();
        if (postgres != null) postgres.close();
        if (s3 != null) s3.close();
        TestDirs.delete(dir);
    }
}
