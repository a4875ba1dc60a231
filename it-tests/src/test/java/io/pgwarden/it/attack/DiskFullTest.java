package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.it.support.Tmpfs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A full disk under the spool or under a filesystem repository (small tmpfs mounts): a push is answered 503 with
 * the path and the cause (PostgreSQL keeps the file and retries), counted as "unavailable", and leaves nothing
 * partial; archiving resumes once there is room. Spool files a killed daemon left are removed when it starts again.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DiskFullTest {
    Path dir;
    PgCluster source;
    String segmentName;
    byte[] segment;
    final List<Path> mounts = new java.util.ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-diskfull-");
        // A 16 MiB segment stored uncompressed: more than the 8 MiB a push keeps in memory, so it goes to the spool.
        source = PgCluster.init(dir, "source", 16).configure("archive_mode = on", "archive_command = '/bin/true'").start();
        source.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
        segmentName = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
        segment = PgwardenFixture.read(source.dataDir().resolve("pg_wal").resolve(segmentName));
    }

    @AfterAll
    void stop() {
        if (source != null) source.close();
        mounts.forEach(Tmpfs::unmount);
        TestDirs.delete(dir);
    }

    private Path tmpfs(String name, String size) throws Exception {
        Path p = Tmpfs.mount(dir.resolve(name), size);
        mounts.add(p);
        return p;
    }

    private static void grow(Path mount) {
        Tmpfs.grow(mount, "200m");
    }

    @Test
    void aFullSpoolAnswers503NamingItAndLeftoversOfAKilledRunAreRemovedAtStart() throws Exception {
        Path spool = tmpfs("spool", "2m");
        Files.writeString(spool.resolve("pgwarden-spool-it-spool-123.tmp"), "left by a killed run");
        Files.writeString(spool.resolve("pgwarden-spool-another-daemon-456.tmp"), "a live daemon's");
        Path d = Files.createDirectories(dir.resolve("spool-daemon"));
        try (PgwardenFixture pgwarden = PgwardenFixture.start(d, PgwardenFixture.filesystemRepositoryYaml(d.resolve("repo"))
                + "  compression: none\n", "instance: it-spool\nspoolDir: " + spool)) {
            try (var left = Files.list(spool)) {
                assertThat(left.map(p -> p.getFileName().toString())).containsExactly("pgwarden-spool-another-daemon-456.tmp");
            }
            var full = pgwarden.put(segmentName, segment);
            assertThat(full.statusCode()).as(full.body()).isEqualTo(503);
            assertThat(full.body()).startsWith("WAL file '" + segmentName + "' of cluster 'main' was not stored: cannot spool to '" + spool
                    + "' (server.spoolDir): ").contains("No space left on device");
            assertThat(pgwarden.metric("pgwarden_wal_push_failures_total{cluster=\"main\",reason=\"unavailable\"}")).isEqualTo(1.0);
            assertThat(pgwarden.get(segmentName).statusCode()).isEqualTo(404);
            try (var left = Files.list(spool)) {
                assertThat(left.map(p -> p.getFileName().toString())).as("no partial spool file").containsExactly("pgwarden-spool-another-daemon-456.tmp");
            }

            grow(spool);
            assertThat(pgwarden.put(segmentName, segment).statusCode()).isEqualTo(201);
            assertThat(pgwarden.get(segmentName).body()).isEqualTo(segment);
        }
    }

    @Test
    void aFullWalSpoolAnswers503NamingItAndLeavesNoPartialFile() throws Exception {
        Path walSpool = tmpfs("wal-spool", "2m");
        Path d = Files.createDirectories(dir.resolve("wal-spool-daemon"));
        try (PgwardenFixture pgwarden = PgwardenFixture.start(d, PgwardenFixture.filesystemRepositoryYaml(d.resolve("repo"))
                + "  compression: none\n", "walSpoolDir: " + walSpool, "archive: {durability: spool}\n")) {
            var full = pgwarden.put(segmentName, segment);
            assertThat(full.statusCode()).as(full.body()).isEqualTo(503);
            assertThat(full.body()).startsWith("WAL file '" + segmentName + "' of cluster 'main' was not stored: cannot write the spool '"
                    + walSpool.resolve("main") + "' (server.walSpoolDir): ").contains("No space left on device");
            assertThat(pgwarden.metric("pgwarden_wal_push_failures_total{cluster=\"main\",reason=\"unavailable\"}")).isEqualTo(1.0);
            assertThat(pgwarden.get(segmentName).statusCode()).isEqualTo(404);
            try (var left = Files.list(walSpool.resolve("main"))) {
                assertThat(left.map(p -> p.getFileName().toString())).as("no partial spool file").containsExactlyInAnyOrder(".lock", "conflict");
            }

            grow(walSpool);
            assertThat(pgwarden.put(segmentName, segment).statusCode()).isEqualTo(201);
            assertThat(pgwarden.get(segmentName).body()).isEqualTo(segment);
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> pgwarden.walKeys().contains("main/wal/00000001/" + segmentName + ".raw"));
        }
    }

    @Test
    void aFullFilesystemRepositoryAnswers503NamingItAndShowsNothingPartial() throws Exception {
        Path repo = tmpfs("repo", "2m");
        Path d = Files.createDirectories(dir.resolve("repo-daemon"));
        try (PgwardenFixture pgwarden = PgwardenFixture.start(d, PgwardenFixture.filesystemRepositoryYaml(repo) + "  compression: none\n", "")) {
            var full = pgwarden.put(segmentName, segment);
            assertThat(full.statusCode()).as(full.body()).isEqualTo(503);
            assertThat(full.body()).startsWith("filesystem repository '" + repo + "': cannot write 'main/wal/").contains("No space left on device");
            assertThat(pgwarden.metric("pgwarden_wal_push_failures_total{cluster=\"main\",reason=\"unavailable\"}")).isEqualTo(1.0);
            assertThat(pgwarden.get(segmentName).statusCode()).isEqualTo(404);
            try (var files = Files.walk(repo)) {
                assertThat(files.filter(Files::isRegularFile).map(p -> repo.relativize(p).toString()))
                        .as("no object and no temp file").allMatch(f -> f.endsWith("cluster.json") || f.endsWith(".cluster.json.meta") || f.endsWith(".lock"));
            }

            grow(repo);
            var stored = pgwarden.put(segmentName, segment);
            assertThat(stored.statusCode()).as(stored.body()).isEqualTo(201);
            assertThat(pgwarden.get(segmentName).body()).isEqualTo(segment);
        }
    }
}
