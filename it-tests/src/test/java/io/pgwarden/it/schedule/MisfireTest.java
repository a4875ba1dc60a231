package io.pgwarden.it.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A daemon that was down at its scheduled time: the repository's last run (a failure record from 2020) says a
 * daily run was missed; with misfire: run-once the daemon takes it at start-up, with skip it waits.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MisfireTest {
    Path dir;
    PgCluster source;

    @BeforeAll
    void start() {
        dir = TestDirs.create("pgwarden-misfire-");
        source = PgCluster.init(dir, "source", 16);
        source.configure("archive_mode = on", "archive_command = '/bin/true'").start();
    }

    @AfterAll
    void stop() {
        if (source != null) source.close();
        TestDirs.delete(dir);
    }

    private PgwardenFixture daemonAfterADowntime(String name, String misfire) throws Exception {
        Path d = Files.createDirectories(dir.resolve(name));
        Path failures = Files.createDirectories(d.resolve("repo/main/failures/base"));
        Files.writeString(failures.resolve("20200101T030000Z-0000.json"), """
                {"kind": "base", "id": "20200101T030000Z-0000", "cluster": "main", "reason": "tool", "error": "an old failure"}
                """);
        PgwardenFixture f = PgwardenFixture.start(d, PgwardenFixture.filesystemRepositoryYaml(d.resolve("repo")), "",
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres}\n"
                        + "schedules: {base: \"0 3 * * *\", misfire: " + misfire + "}\n");
        source.query("ALTER SYSTEM SET archive_command = '" + f.archiveCommand().replace("'", "''") + "'");
        source.query("SELECT pg_reload_conf()");
        return f;
    }

    @Test
    void runOnceTakesTheMissedBackupAtStartUp() throws Exception {
        try (PgwardenFixture pgwarden = daemonAfterADowntime("run-once", "run-once")) {
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).until(() ->
                    pgwarden.repositoryKeys().stream().anyMatch(k -> k.startsWith("main/base/") && k.endsWith("/manifest.json")));
            assertThat(pgwarden.metric("pgwarden_backup_last_success_timestamp_seconds{cluster=\"main\",database=\"\",kind=\"base\"}"))
                    .isGreaterThan(0);
        }
    }

    @Test
    void skipWaitsForTheNextScheduledTime() throws Exception {
        try (PgwardenFixture pgwarden = daemonAfterADowntime("skip", "skip")) {
            Thread.sleep(3000); // long enough for a start-up run to have begun (the run-once case starts within a second)
            assertThat(pgwarden.daemon().jobs().running()).isEmpty();
            assertThat(pgwarden.repositoryKeys()).noneMatch(k -> k.startsWith("main/base/"));
            assertThat(pgwarden.metric("pgwarden_backup_last_success_timestamp_seconds{cluster=\"main\",database=\"\",kind=\"base\"}"))
                    .isZero();
        }
    }
}
