package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.config.ConfigLoader;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * kill -9 of the daemon process at random moments while pgbench writes and PostgreSQL archives (1 MiB segments, so
 * pushes are always in flight), ten times, and once in the middle of a base backup. After the last restart: every
 * segment PostgreSQL marked archived is in the repository, byte for byte; every WAL object has its metadata; the
 * interrupted backup left no manifest and the next one succeeds; garbage collection removes what the kills left
 * half-written; and a restore to the end of the archive has every committed row. On a filesystem and on S3Proxy.
 * (archive_command retries with curl --retry: the daemon is down for a second or two at each kill, and without it
 * PostgreSQL would pause a minute after three failures, which only makes the test slow.) Bounded to ten kills to keep
 * the suite's time: each costs a daemon restart of about two seconds.
 */
class KillNineTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int KILLS = 10;
    static final Path FAKETIME = Path.of("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");
    final HttpClient http = HttpClient.newHttpClient();

    @ParameterizedTest
    @ValueSource(strings = {"filesystem", "s3"})
    void killedAtRandomMomentsTheDaemonLosesNothingPostgresqlWasToldIsArchived(String repository) throws Exception {
        Path dir = TestDirs.create("pgwarden-kill9-" + repository + "-");
        S3Server s3 = repository.equals("s3") ? new S3Server().start() : null;
        PgCluster source = null;
        Process daemon = null;
        Process pgbench = null;
        try {
            if (s3 != null) s3.createBucket("kill");
            String repositoryYaml = s3 != null ? s3.repositoryYaml("kill", "k") : PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo"));
            source = PgCluster.init(dir, "source", 1);
            int port = TestDirs.freePort();
            Path config = PgwardenFixture.writeConfig(dir, "127.0.0.1:" + port, repositoryYaml, "",
                    "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres}\nbaseBackup: {maxRate: 8MB}\n"
                            + "retention: {base: {keepLast: 100}}\n");
            String archive = PgwardenFixture.archiveCommandWithHeaderFile(dir, port).replace("curl ", "curl --retry 30 --retry-all-errors --retry-delay 1 ");
            source.configure("archive_mode = on", "archive_command = '" + archive + "'", "wal_keep_size = '4GB'", "checkpoint_timeout = '1h'").start();
            Path log = dir.resolve("daemon.log");
            daemon = Launcher.startDaemon(config, log, port);
            Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pgbench").toString(), "-i", "-s", "1", "-h", source.socketDir().toString(),
                    "-p", Integer.toString(source.port()), "-U", "postgres", "postgres"), "pgbench -i");

            pgbench = new ProcessBuilder(asPostgres(PgCluster.BIN.resolve("pgbench").toString(), "-n", "-c", "2", "-R", "100", "-T", "600", "-h",
                    source.socketDir().toString(), "-p", Integer.toString(source.port()), "-U", "postgres", "postgres"))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("pgbench.log").toFile()).start();
            Random random = new Random();
            for (int kill = 0; kill < KILLS; kill++) {
                Thread.sleep(300 + random.nextInt(1700));
                daemon.destroyForcibly().waitFor(); // SIGKILL: nothing runs on the way out
                daemon = Launcher.startDaemon(config, log, port);
            }

            // Once in the middle of a base backup: no manifest; the next one succeeds.
            String interrupted = startBackup(port);
            Thread.sleep(1000); // about a third of the way through (8 MB/s)
            daemon.destroyForcibly().waitFor();
            daemon = Launcher.startDaemon(config, log, port);
            JsonNode next = awaitRun(port, startBackup(port));
            assertThat(next.get("state").asText()).as(next.toString()).isEqualTo("succeeded");

            pgbench.destroy();
            pgbench.waitFor();
            source.query("CREATE TABLE marker AS SELECT 'last commit' AS what");
            String lastSegment = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
            source.query("SELECT pg_switch_wal()");
            source.awaitArchived(lastSegment, Duration.ofMinutes(2));
            long history = Long.parseLong(source.query("SELECT count(*) FROM pgbench_history"));
            assertThat(history).isPositive();

            try (StorageDriver storage = StorageFactory.create(ConfigLoader.load(config).repository())) {
                assertThat(storage.stat("main/base/" + interrupted + "/manifest.json")).as("the interrupted backup has no manifest").isEmpty();
                everyArchivedSegmentIsStoredByteForByte(source, port);
                everyWalObjectHasItsMetadata(storage);
            }

            garbageCollectionRemovesWhatTheKillsLeft(config, dir, s3);

            // Recovery fetches through the restarted daemon (curl: a JVM per WAL file would make replay slow).
            Path target = dir.resolve("restored");
            var restore = Launcher.run("restore", "--config", config.toString(), "--cluster", "main", "--latest", "--target-dir", target.toString(),
                    "--restore-command", "daemon");
            assertThat(restore.exitCode()).as(restore.stderr()).isEqualTo(0);
            Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", target.toString(), target + ".pgwarden-auth-header"), null), "chown");
            try (PgCluster copy = PgCluster.existing(dir, target, "restored")) {
                copy.configure("archive_mode = off").start();
                await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(300)).until(() -> copy.query("SELECT pg_is_in_recovery()").equals("f"));
                assertThat(Long.parseLong(copy.query("SELECT count(*) FROM pgbench_history"))).isEqualTo(history);
                assertThat(copy.query("SELECT what FROM marker")).isEqualTo("last commit");
            }
        } finally {
            if (pgbench != null) pgbench.destroyForcibly();
            if (daemon != null) daemon.destroyForcibly().waitFor();
            if (source != null) source.close();
            if (s3 != null) s3.close();
            TestDirs.delete(dir);
        }
    }

    /** Each segment PostgreSQL has a .done for (it was told "archived" and may recycle it) is in the repository, identical. */
    private void everyArchivedSegmentIsStoredByteForByte(PgCluster source, int port) throws Exception {
        List<String> done = new ArrayList<>();
        try (var status = Files.list(source.dataDir().resolve("pg_wal/archive_status"))) {
            status.map(p -> p.getFileName().toString()).filter(n -> n.matches("[0-9A-F]{24}\\.done")).forEach(n -> done.add(n.substring(0, 24)));
        }
        assertThat(done).hasSizeGreaterThan(10);
        for (String segment : done) {
            Path file = source.dataDir().resolve("pg_wal").resolve(segment);
            if (!Files.exists(file)) continue; // recycled meanwhile
            HttpResponse<byte[]> fetched = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/wal/" + segment))
                    .header("Authorization", "Bearer " + PgwardenFixture.TOKEN).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(fetched.statusCode()).as(segment).isEqualTo(200);
            assertThat(fetched.body()).as(segment).isEqualTo(Files.readAllBytes(file));
        }
    }

    private static void everyWalObjectHasItsMetadata(StorageDriver storage) {
        List<String> keys;
        try (var listing = storage.list("main/wal/")) {
            keys = listing.map(StorageDriver.ObjectInfo::key).toList();
        }
        assertThat(keys).isNotEmpty();
        for (String key : keys) {
            assertThat(storage.stat(key).orElseThrow().metadata()).as(key).containsKeys("sha256", "raw-size");
        }
    }

    /** A prune a day and an hour later (libfaketime, past the default repository.garbageGrace of 24h) leaves no temp file and no open multipart upload. */
    private static void garbageCollectionRemovesWhatTheKillsLeft(Path config, Path dir, S3Server s3) throws Exception {
        var prune = Processes.run(List.of("env", "LD_PRELOAD=" + FAKETIME, "FAKETIME=+25h", Launcher.executable().toString(), "prune",
                "--config", config.toString(), "--cluster", "main"), dir);
        assertThat(prune.exitCode()).as(prune.stderr() + prune.stdout()).isZero();
        if (s3 != null) {
            try (var client = s3.client()) {
                assertThat(client.listMultipartUploads(b -> b.bucket("kill")).uploads()).isEmpty();
            }
        } else {
            try (var files = Files.walk(dir.resolve("repo"))) {
                assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp-"))).isEmpty();
            }
        }
    }

    private String startBackup(int port) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/backups?kind=base"))
                .header("Authorization", "Bearer " + PgwardenFixture.ADMIN_TOKEN).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        return JSON.readTree(r.body()).get("id").asText();
    }

    private JsonNode awaitRun(int port, String id) {
        JsonNode[] state = new JsonNode[1];
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).until(() -> {
            state[0] = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/runs/" + id))
                    .header("Authorization", "Bearer " + PgwardenFixture.ADMIN_TOKEN).build(), HttpResponse.BodyHandlers.ofString()).body());
            return !state[0].get("state").asText().equals("running");
        });
        return state[0];
    }

    private static List<String> asPostgres(String... command) {
        List<String> cmd = new ArrayList<>();
        if (Processes.isRoot()) cmd.addAll(List.of("runuser", "-u", "postgres", "--"));
        cmd.addAll(List.of(command));
        return cmd;
    }
}
