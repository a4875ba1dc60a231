package io.pgwarden.it.restore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The PITR truth test: rows committed in batches; a time T between two batches; `pgwarden restore --target-time T`
 * gives exactly the rows committed before T, `--latest` all of them; then the restored copy, promoted to timeline 2,
 * archives to the same cluster and a restore to a time on timeline 2 follows the history file. Every restore runs
 * the real CLI and a real PostgreSQL 15 whose restore_command is `pgwarden wal-fetch`. Subclasses pick the repository.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.Random.class) // no test depends on another's leftovers: any order passes
abstract class PitrEndToEnd {
    Path dir;
    PgwardenFixture pgwarden;
    PgCluster source;
    String backupId;
    Instant betweenBatches;
    Instant beforeTheBackup;
    /** The segment holding the second batch: the last archived on timeline 1. */
    String lastSegment;
    PgCluster promoted;

    abstract String repositoryYaml(Path dir) throws Exception;

    void stopRepository() throws Exception {
    }

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-pitr-");
        source = PgCluster.init(dir, "source", 16);
        pgwarden = PgwardenFixture.start(dir, repositoryYaml(dir), "", "connection: {host: 127.0.0.1, port: PORT, user: postgres}"
                .replace("PORT", Integer.toString(source.port())));
        source.configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'").start();
        source.query("CREATE TABLE t (id serial, batch int, at timestamptz DEFAULT clock_timestamp())");
        beforeTheBackup = Instant.parse(source.query("SELECT to_json(clock_timestamp())#>>'{}'"));
        var run = pgwarden.daemon().jobs().run(new JobRequest("main", JobKind.BASE, Optional.empty(), "test"));
        assertThat(run.state()).as(String.valueOf(run.error())).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        backupId = run.id();

        insertBatch(source, 1, 100);
        Thread.sleep(1100);
        betweenBatches = Instant.parse(source.query("SELECT to_json(clock_timestamp())#>>'{}'"));
        Thread.sleep(1100);
        insertBatch(source, 2, 50);
        lastSegment = source.query("SELECT pg_walfile_name(pg_switch_wal())");
        source.awaitArchived(lastSegment, Duration.ofMinutes(1));
    }

    @AfterAll
    void stop() throws Exception {
        if (promoted != null) promoted.close();
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        stopRepository();
        TestDirs.delete(dir);
    }

    static void insertBatch(PgCluster pg, int batch, int rows) {
        pg.query("INSERT INTO t (batch) SELECT " + batch + " FROM generate_series(1, " + rows + ")");
    }

    Processes.Result restore(String... args) {
        List<String> all = new java.util.ArrayList<>(List.of("restore", "--config", pgwarden.configFile().toString(), "--cluster", "main"));
        all.addAll(List.of(args));
        return Launcher.run(all.toArray(String[]::new));
    }

    /**
     * Starts PostgreSQL on a restored directory and waits until recovery has ended (promoted). Without archiving,
     * so the copy's new timeline stays out of the repository (its history file is archived only when archiving is
     * on at promotion).
     */
    PgCluster startRestored(Path data, String name) {
        return startRestored(data, name, "archive_mode = off");
    }

    PgCluster startRestored(Path data, String name, String... settings) {
        Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", data.toString()), null), "chown");
        PgCluster copy = PgCluster.existing(dir, data, name);
        copy.configure(settings).start();
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(300)).until(() -> copy.query("SELECT pg_is_in_recovery()").equals("f"));
        return copy;
    }

    /** Flips one byte in the middle of an object, its metadata kept, until closed, which puts the original back. */
    static AutoCloseable corrupted(StorageDriver storage, String key) throws Exception {
        var info = storage.stat(key).orElseThrow();
        byte[] original;
        try (var object = storage.get(key).orElseThrow()) {
            original = object.content().readAllBytes();
        }
        byte[] corrupt = original.clone();
        corrupt[corrupt.length / 2] ^= 0x5a;
        storage.put(key, new java.io.ByteArrayInputStream(corrupt), info.metadata());
        return () -> storage.put(key, new java.io.ByteArrayInputStream(original), info.metadata());
    }

    static String batches(PgCluster pg) {
        return pg.query("SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM (SELECT batch, count(*) n FROM t GROUP BY batch) s");
    }

    @Test
    void aRestoreToATimeBetweenTwoBatchesHasExactlyTheRowsCommittedBefore() {
        Path target = dir.resolve("to-time");
        var r = restore("--target-time", betweenBatches.toString(), "--target-dir", target.toString());
        assertThat(r.exitCode()).as(r.stderr()).isEqualTo(0);
        assertThat(r.stdout()).contains("base backup:   " + backupId).contains("target:        time " + betweenBatches)
                .contains("next: start PostgreSQL 15");
        assertThat(r.stderr()).contains("(100%)");
        try (PgCluster copy = startRestored(target, "to-time")) {
            assertThat(batches(copy)).isEqualTo("1:100");
        }
    }

    /** One test, not two: the copy restored to the latest point is the one whose promotion makes timeline 2. */
    @Test
    void aRestoreToTheLatestPointHasEveryRowAndARestoreFollowsTheHistoryFileToATimeOnTimelineTwo() throws Exception {
        Path latest = dir.resolve("latest");
        var restored = restore("--latest", "--target-dir", latest.toString());
        assertThat(restored.exitCode()).as(restored.stderr()).isEqualTo(0);
        // This copy goes on as a server: archiving on at promotion, to the same cluster (same system identifier).
        promoted = startRestored(latest, "latest", "archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'");
        assertThat(batches(promoted)).isEqualTo("1:100,2:50");

        assertThat(promoted.query("SELECT timeline_id FROM pg_control_checkpoint()")).isEqualTo("2");
        insertBatch(promoted, 3, 30);
        Thread.sleep(1100);
        Instant onTimeline2 = Instant.parse(promoted.query("SELECT to_json(clock_timestamp())#>>'{}'"));
        Thread.sleep(1100);
        insertBatch(promoted, 4, 7);
        promoted.awaitArchived(promoted.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
        assertThat(pgwarden.walKeys()).anyMatch(k -> k.startsWith("main/wal/00000002/00000002.history."));

        Path target = dir.resolve("timeline2");
        var r = restore("--target-time", onTimeline2.toString(), "--target-dir", target.toString());
        assertThat(r.exitCode()).as(r.stderr()).isEqualTo(0);
        assertThat(r.stdout()).contains("timeline:      2");
        try (PgCluster copy = startRestored(target, "timeline2")) {
            assertThat(batches(copy)).isEqualTo("1:100,2:50,3:30");
        }
    }

    @Test
    void aDryRunPrintsThePlanAndWritesNothing() {
        Path target = dir.resolve("dry");
        var r = restore("--target-time", betweenBatches.toString(), "--target-dir", target.toString(), "--target-timeline", "1", "--dry-run");
        assertThat(r.exitCode()).as(r.stderr()).isEqualTo(0);
        assertThat(r.stdout()).contains("base backup:   " + backupId).contains("timeline:      1").contains("WAL:           0000000100000000000000")
                .contains("to download:").doesNotContain("next:");
        assertThat(target).doesNotExist();
    }

    @Test
    void refusalsSayExactlyWhatIsWrong() throws Exception {
        var before = restore("--target-time", beforeTheBackup.toString(), "--dry-run");
        assertThat(before.exitCode()).isEqualTo(1);
        assertThat(before.stderr()).contains("ended before the target time " + beforeTheBackup + "; the earliest restorable point is ")
                .contains("the end of base backup " + backupId);

        Instant future = Instant.now().plusSeconds(3600);
        var later = restore("--target-time", future.toString(), "--dry-run", "--target-timeline", "1");
        assertThat(later.exitCode()).isEqualTo(1);
        assertThat(later.stderr()).contains("the target time " + future + " is later than the newest archived WAL of cluster 'main'")
                .contains("the latest restorable point is ");

        var zoneless = restore("--target-time", "2026-11-25 10:00:00", "--dry-run");
        assertThat(zoneless.exitCode()).isEqualTo(2);
        assertThat(zoneless.stderr()).contains("--target-time '2026-11-25 10:00:00' has no time zone");

        Path occupied = Files.createDirectories(dir.resolve("occupied"));
        Files.writeString(occupied.resolve("keep-me"), "precious");
        var notEmpty = restore("--latest", "--target-dir", occupied.toString());
        assertThat(notEmpty.exitCode()).isEqualTo(2);
        assertThat(notEmpty.stderr()).contains("target directory '" + occupied + "' is not empty; refusing to restore over it");
        assertThat(Files.readString(occupied.resolve("keep-me"))).isEqualTo("precious");
    }

    @Test
    void aMissingWalFileIsNamedAsTheGap() throws Exception {
        // More WAL on timeline 1, so the hole below lies inside the chain, not at its (still growing) end; written
        // outside table t, so that no other test's row count depends on whether this one ran first.
        source.query("CREATE TABLE IF NOT EXISTS filler (x int)");
        for (int i = 0; i < 3; i++) {
            source.query("INSERT INTO filler VALUES (" + i + ")");
            source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
        }
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            String manifestStart = restore("--latest", "--dry-run", "--target-timeline", "1").stdout()
                    .lines().filter(l -> l.contains("WAL:")).findFirst().orElseThrow().trim().split("\\s+")[1];
            // The file after the backup's first one: a hole in the middle of the chain.
            long next = Long.parseLong(manifestStart.substring(16), 16) + 1;
            String missing = manifestStart.substring(0, 16) + "%08X".formatted(next);
            String key = pgwarden.walKeys().stream().filter(k -> k.contains("/" + missing + ".")).findFirst().orElseThrow();
            byte[] saved;
            var info = storage.stat(key).orElseThrow();
            try (var object = storage.get(key).orElseThrow()) {
                saved = object.content().readAllBytes();
            }
            storage.delete(key);
            try {
                var r = restore("--latest", "--dry-run", "--target-timeline", "1");
                assertThat(r.exitCode()).isEqualTo(5);
                assertThat(r.stderr()).contains("WAL gap in cluster 'main': file '" + missing + "' is missing from the repository; base backup "
                        + backupId + " needs every WAL file from " + manifestStart);
            } finally {
                storage.put(key, new java.io.ByteArrayInputStream(saved), info.metadata());
            }
        }
    }

    @Test
    void aCorruptBaseBackupFailsTheRestoreAndLeavesTheDirectoryEmpty() throws Exception {
        String key = "main/base/" + backupId + "/base.tar.zst";
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository()); AutoCloseable restored = corrupted(storage, key)) {
            Path target = dir.resolve("corrupt");
            var r = restore("--latest", "--target-dir", target.toString(), "--target-timeline", "1");
            assertThat(r.exitCode()).as(r.stderr()).isEqualTo(5);
            assertThat(r.stderr()).contains("repository object '" + key + "'").contains("(code INTEGRITY, object " + key + ")");
            try (var left = Files.list(target)) {
                assertThat(left).isEmpty();
            }
        }
    }

    /**
     * A base backup's manifest records the SHA-256 of its data object as stored; one that records no checksum at all
     * is refused (else an edited manifest would turn verification off), bytes appended to the stored object are
     * refused, and a manifest of the earlier format (the SHA-256 of the raw tar) still restores, with exact rows.
     */
    @Test
    void theDataObjectIsCheckedAsStoredAManifestWithoutChecksumsIsRefusedAndRawChecksumsStillRestore() throws Exception {
        String manifestKey = "main/base/" + backupId + "/manifest.json";
        String dataKey = "main/base/" + backupId + "/base.tar.zst";
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            byte[] original = read(storage, manifestKey);
            var manifest = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(original);
            byte[] stored = read(storage, dataKey);
            assertThat(manifest.get("storedSha256").asText()).isEqualTo(java.util.HexFormat.of().formatHex(
                    java.security.MessageDigest.getInstance("SHA-256").digest(stored)));
            assertThat(manifest.path("sha256").asText(null)).as("no raw SHA-256 computed").isNull();
            try {
                var unchecked = manifest.deepCopy();
                unchecked.remove(List.of("sha256", "storedSha256"));
                storage.put(manifestKey, StorageDriver.SizedContent.of(json.writeValueAsBytes(unchecked)), java.util.Map.of());
                Path target = dir.resolve("unchecked");
                var r = restore("--latest", "--target-dir", target.toString(), "--target-timeline", "1");
                assertThat(r.exitCode()).as(r.stderr()).isEqualTo(5);
                assertThat(r.stderr()).contains("records no SHA-256 of its data object '" + dataKey + "'");
                assertThat(target).satisfiesAnyOf(t -> assertThat(t).doesNotExist(), t -> assertThat(t).isEmptyDirectory());
                storage.put(manifestKey, StorageDriver.SizedContent.of(original), java.util.Map.of());

                var info = storage.stat(dataKey).orElseThrow();
                byte[] appended = java.util.Arrays.copyOf(stored, stored.length + 3);
                storage.put(dataKey, new java.io.ByteArrayInputStream(appended), info.metadata());
                target = dir.resolve("appended");
                r = restore("--latest", "--target-dir", target.toString(), "--target-timeline", "1");
                assertThat(r.exitCode()).as(r.stderr()).isEqualTo(5);
                assertThat(r.stderr()).contains("(code INTEGRITY, object " + dataKey + ")");
                storage.put(dataKey, new java.io.ByteArrayInputStream(stored), info.metadata());

                var rawFormat = manifest.deepCopy();
                byte[] tar;
                try (var in = io.pgwarden.repository.codec.Codecs.decompress(io.pgwarden.repository.codec.Compression.ZSTD,
                        new java.io.ByteArrayInputStream(stored))) {
                    tar = in.readAllBytes();
                }
                rawFormat.put("sha256", java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(tar)));
                rawFormat.remove("storedSha256");
                storage.put(manifestKey, StorageDriver.SizedContent.of(json.writeValueAsBytes(rawFormat)), java.util.Map.of());
                target = dir.resolve("raw-format");
                r = restore("--target-time", betweenBatches.toString(), "--target-dir", target.toString());
                assertThat(r.exitCode()).as(r.stderr()).isEqualTo(0);
                try (PgCluster copy = startRestored(target, "raw-format")) {
                    assertThat(batches(copy)).isEqualTo("1:100");
                }
            } finally {
                storage.put(manifestKey, StorageDriver.SizedContent.of(original), java.util.Map.of());
            }
        }
    }

    private static byte[] read(StorageDriver storage, String key) throws java.io.IOException {
        try (var object = storage.get(key).orElseThrow()) {
            return object.content().readAllBytes();
        }
    }

    /**
     * PostgreSQL reads a restore_command's exit 1..125 as the end of the archive: a restore to the latest point that
     * cannot fetch a file (a corrupt object here; a repository outage or a daemon away alike) would be promoted early
     * and report success without the rows after it. pgwarden's restore_commands stop the recovery instead.
     */
    @Test
    void aWalFileThatCannotBeFetchedStopsARestoreToTheLatestPointInsteadOfEndingItEarly() throws Exception {
        String key = pgwarden.walKeys().stream().filter(k -> k.contains("/" + lastSegment + ".")).findFirst().orElseThrow();
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository()); AutoCloseable restored = corrupted(storage, key)) {
            for (String command : List.of("standalone", "daemon")) {
                Path target = dir.resolve("unfetchable-" + command);
                var r = restore("--latest", "--target-timeline", "1", "--target-dir", target.toString(), "--restore-command", command,
                        "--start", "--port", Integer.toString(TestDirs.freePort()), "--archive-mode", "off");
                try {
                    assertThat(r.exitCode()).as(command + ": " + r.stdout() + r.stderr()).isEqualTo(4);
                    assertThat(r.stderr()).as(command).contains("pgwarden restore_command: " + lastSegment)
                            .contains("stopping the recovery rather than ending it before the archive does");
                    assertThat(r.stdout()).as(command).doesNotContain("promoted");
                    assertThat(target.resolve("postmaster.pid")).as(command + ": the server is not running").doesNotExist();
                    assertThat(target.resolve("pg_wal/00000002.history")).as(command + ": never promoted").doesNotExist();
                } finally {
                    Processes.asPostgres(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", target.toString(), "-m", "immediate", "stop");
                }
            }
        }
    }

    @Test
    void withStartTheRestoredServerRunsAndSaysWhereRecoveryEnded() {
        Path target = dir.resolve("started");
        int port = TestDirs.freePort();
        var r = restore("--target-time", betweenBatches.toString(), "--target-dir", target.toString(), "--start", "--port",
                Integer.toString(port), "--archive-mode", "off");
        try {
            assertThat(r.exitCode()).as(r.stderr()).isEqualTo(0);
            assertThat(r.stdout()).contains("PostgreSQL 15 started on " + target + " (port " + port + " on localhost")
                    .contains("recovery finished and the server was promoted; recovered to ");
            var psql = new io.pgwarden.it.support.Psql("127.0.0.1", port, "unused");
            assertThat(psql.query("postgres", "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM"
                    + " (SELECT batch, count(*) n FROM t GROUP BY batch) s")).isEqualTo("1:100");
            assertThat(psql.query("postgres", "SHOW archive_mode")).isEqualTo("off");
        } finally {
            Processes.asPostgres(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", target.toString(), "-m", "fast", "-w", "stop");
        }
        assertThat(restore("--latest", "--port", "5999", "--dry-run").stderr()).contains("--port and --archive-mode apply with --start only");
    }

    @Test
    void theAdminApiRestoresToATimeAndReportsProgress() throws Exception {
        Path target = dir.resolve("api");
        var started = pgwarden.admin("POST", "/v1/clusters/main/restores", """
                {"targetTime": "%s", "targetDir": "%s"}""".formatted(betweenBatches, target));
        assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        String id = json.readTree(started.body()).get("id").asText();
        com.fasterxml.jackson.databind.JsonNode[] status = new com.fasterxml.jackson.databind.JsonNode[1];
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(300)).until(() -> {
            status[0] = json.readTree(pgwarden.admin("GET", "/v1/clusters/main/restores/" + id, null).body());
            return !status[0].get("state").asText().equals("running");
        });
        assertThat(status[0].get("state").asText()).as(status[0].toString()).isEqualTo("succeeded");
        assertThat(status[0].get("backupId").asText()).isEqualTo(backupId);
        assertThat(status[0].get("bytesDone").asLong()).isEqualTo(status[0].get("bytesTotal").asLong()).isGreaterThan(0);
        assertThat(status[0].get("next").asText()).contains("pg_ctl -D " + target);
        Processes.checked(Processes.run(List.of("chown", "postgres", target + ".pgwarden-auth-header"), null), "chown");
        try (PgCluster copy = startRestored(target, "api")) {
            assertThat(batches(copy)).isEqualTo("1:100");
        }

        var refused = pgwarden.admin("POST", "/v1/clusters/main/restores", """
                {"targetTime": "%s", "targetDir": "%s"}""".formatted(beforeTheBackup, dir.resolve("api-refused")));
        assertThat(refused.statusCode()).isEqualTo(404);
        assertThat(refused.body()).contains("the earliest restorable point is ");
        var bad = pgwarden.admin("POST", "/v1/clusters/main/restores", "{\"latest\": true, \"targetDir\": \"/x\", \"colour\": \"red\"}");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).startsWith("unknown field 'colour'");
        var two = pgwarden.admin("POST", "/v1/clusters/main/restores", "{\"latest\": true, \"targetLsn\": \"0/0\", \"targetDir\": \"/x\"}");
        assertThat(two.statusCode()).isEqualTo(400);
        assertThat(two.body()).startsWith("give exactly one of targetTime, targetLsn, targetName, latest: true");
    }

    @Test
    void withTheDockerRunnerStartRestoresIntoANewVolumeAndLeavesTheServerRunning() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(io.pgwarden.it.support.PgContainer.imagePresent(), "no local PostgreSQL image");
        // The same repository, with the docker runner: what an operator of a containerised deployment has.
        Path dockerConfig = dir.resolve("docker-runner.yml");
        java.nio.file.Files.writeString(dockerConfig, java.nio.file.Files.readString(pgwarden.configFile()).replace("    connection:",
                "    runner: {type: docker, image: \"local/postgres:{major}\", network: host, pull: never}\n    connection:"));
        int port = TestDirs.freePort();
        var r = Launcher.run("restore", "--config", dockerConfig.toString(), "--cluster", "main", "--target-time", betweenBatches.toString(),
                "--start", "--port", Integer.toString(port), "--archive-mode", "off");
        java.util.regex.Matcher names = java.util.regex.Pattern.compile("started in container (\\S+) on volume (\\S+),").matcher(r.stdout());
        assertThat(names.find()).as(r.stdout() + r.stderr()).isTrue();
        String container = names.group(1);
        String volume = names.group(2);
        try {
            assertThat(r.exitCode()).as(r.stderr()).isEqualTo(0);
            assertThat(r.stdout()).contains("into Docker volume " + volume).contains("published on 127.0.0.1:" + port)
                    .contains("recovery finished and the server was promoted; recovered to ")
                    .contains("docker stop " + container);
            var psql = Processes.checked(Processes.run(List.of("docker", "exec", "-u", "postgres", container, "psql", "-X", "-At",
                    "-h", "/pgwarden-restore", "-d", "postgres", "-c", "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM"
                            + " (SELECT batch, count(*) n FROM t GROUP BY batch) s"), null), "psql in the restored container");
            assertThat(psql.stdout().strip()).isEqualTo("1:100");
            assertThat(Processes.run(List.of("docker", "port", container, "5432/tcp"), null).stdout()).contains("127.0.0.1:" + port);
        } finally {
            Processes.run(List.of("docker", "rm", "-f", container), null);
            Processes.run(List.of("docker", "volume", "rm", volume), null);
        }
        var refused = Launcher.run("restore", "--config", dockerConfig.toString(), "--cluster", "main", "--latest", "--start",
                "--target-dir", dir.resolve("y").toString());
        assertThat(refused.exitCode()).isEqualTo(2);
        assertThat(refused.stderr()).contains("with the docker runner, --start restores into a new Docker volume (named in the output); leave out --target-dir");
    }
}
