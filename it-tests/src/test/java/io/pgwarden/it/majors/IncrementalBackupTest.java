package io.pgwarden.it.majors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.luben.zstd.ZstdInputStream;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgContainer;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Incremental backups of a PostgreSQL 17 server (in a container, tools in sidecars): refused without summarize_wal
 * and without a backup to build on (unless configured to fall back to a full one), then a full backup and two
 * incrementals with rows changed between them, each naming its parent and storing only what changed; the chain,
 * combined by hand with pg_combinebackup as an operator would, and by pgwarden's restore and test restore, recovers to
 * exactly the rows of the last incremental; a corrupted member is refused with its key; a parent whose manifest is
 * corrupt is fallen back from only when configured.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class IncrementalBackupTest {
    private static final String PASSWORD = "incremental-pw";
    /** Its own name: restored servers and volumes are named after the cluster, and other test classes run meanwhile. */
    private static final String CLUSTER = "incr17";

    Path dir;
    int port;
    PgContainer pg;
    PgwardenFixture pgwarden;
    final List<String> chain = new ArrayList<>();
    String expected;
    java.time.Instant afterLastBackup;
    String fallbackFull;
    private static final String BATCHES = "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM (SELECT batch, count(*) n FROM t GROUP BY batch) s";

    @BeforeAll
    void start() throws Exception {
        assumeTrue(PgContainer.imagePresent(17), "no local image local/postgres:17 (it-tests/images/build-images.sh builds it)");
        dir = TestDirs.create("pgwarden-incremental-");
        port = TestDirs.freePort();
        pg = PgContainer.start(17, PASSWORD, PgwardenFixture.archiveCommandFromContainer(port).replace("/clusters/main/", "/clusters/" + CLUSTER + "/"),
                List.of());
        Path config = PgwardenFixture.writeContainerClusterConfig(dir, port, "it-incremental", CLUSTER, pg, PASSWORD);
        // With runner.streamDir PostgreSQL compresses (baseBackup.compressOn: auto): the chain's tars hold no backup_manifest,
        // which every restore adds from the object stored beside each.
        Files.writeString(config, Files.readString(config).replace("pull: never}", "pull: never, streamDir: " + dir.resolve("stream") + "}"));
        pgwarden = PgwardenFixture.startWithConfig(dir, config);
        query("CREATE TABLE t (id int PRIMARY KEY, batch int, pad text)");
        query("INSERT INTO t SELECT g, 0, repeat(md5(g::text), 4) FROM generate_series(1, 200000) g");
    }

    @AfterAll
    void stop() {
        if (pgwarden != null) pgwarden.close();
        if (pg != null) pg.close();
        if (dir != null) TestDirs.delete(dir);
    }

    @Test
    @Order(1)
    void refusedWithoutSummarizeWalNamingTheSetting() throws Exception {
        JsonNode run = backup("incremental");
        assertThat(run.get("state").asText()).isEqualTo("failed");
        assertThat(run.get("error").asText()).contains("the server has summarize_wal = off")
                .contains("HINT: ALTER SYSTEM SET summarize_wal = on");
        query("ALTER SYSTEM SET summarize_wal = on");
        query("SELECT pg_reload_conf()");
    }

    @Test
    @Order(2)
    void refusedWithoutABackupToBuildOn() throws Exception {
        JsonNode run = backup("incremental");
        assertThat(run.get("state").asText()).isEqualTo("failed");
        assertThat(run.get("error").asText()).contains("the cluster has no base backup to build on; HINT: take a full base backup first");
        assertThat(pgwarden.repositoryKeys(CLUSTER + "/base/")).as("nothing stored").isEmpty();
    }

    /** Only when configured: the same request, with baseBackup.incrementalFallback: full, takes a full backup. */
    @Test
    @Order(3)
    void withTheFallbackConfiguredAnIncrementalWithoutAParentIsTakenAsAFullBackup() throws Exception {
        restartWith("baseBackup: {incrementalFallback: full}");
        JsonNode run = backup("incremental");
        assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("succeeded");
        BaseBackupManifest m = manifest(run.get("id").asText());
        assertThat(m.kind()).isEqualTo("full");
        assertThat(m.parentId()).isNull();
        fallbackFull = m.backupId();
        assertThat(pgwarden.metric("pgwarden_backup_last_success_timestamp_seconds{cluster=\"" + CLUSTER + "\",database=\"\",kind=\"base\"}"))
                .as("counted as a full backup").isPositive();
    }

    @Test
    @Order(4)
    void aFullBackupThenTwoIncrementalsEachStoringOnlyWhatChanged() throws Exception {
        JsonNode full = backup("base");
        assertThat(full.get("state").asText()).as(full.toString()).isEqualTo("succeeded");
        chain.add(full.get("id").asText());
        for (int batch = 1; batch <= 2; batch++) {
            // 1 % of the rows change between backups (2,000 of them, as recent rows of a table do).
            query("UPDATE t SET batch = " + batch + " WHERE id > " + (200000 - 2000 * batch) + " AND id <= " + (202000 - 2000 * batch));
            JsonNode run = backup("incremental");
            assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("succeeded");
            BaseBackupManifest m = manifest(run.get("id").asText());
            assertThat(m.kind()).isEqualTo("incremental");
            assertThat(m.parentId()).isEqualTo(chain.get(chain.size() - 1));
            chain.add(m.backupId());
        }
        BaseBackupManifest first = manifest(chain.get(0));
        BaseBackupManifest last = manifest(chain.get(2));
        assertThat(first.kind()).isEqualTo("full");
        assertThat(last.rawBytes()).as("an incremental's tar against the full one's").isLessThan(first.rawBytes() / 4);
        System.out.printf("incremental backup after ~1%% of rows changed: raw %d of %d bytes (%.2fx), stored %d of %d (%.2fx)%n",
                last.rawBytes(), first.rawBytes(), (double) last.rawBytes() / first.rawBytes(), last.storedBytes(), first.storedBytes(),
                (double) last.storedBytes() / first.storedBytes());
        var list = Launcher.run("list", "--config", pgwarden.configFile().toString(), "--cluster", CLUSTER);
        assertThat(list.stdout()).contains("incremental on " + chain.get(1)).contains("incremental on " + chain.get(0));
    }

    @Test
    @Order(5)
    void theChainCombinedWithPgCombinebackupRecoversToTheRowsOfTheLastIncremental() throws Exception {
        assertThat(chain).hasSize(3);
        expected = query(BATCHES);
        Thread.sleep(1100);
        afterLastBackup = java.time.Instant.parse(query("SELECT to_json(clock_timestamp())#>>'{}'"));
        Thread.sleep(1100);
        query("UPDATE t SET batch = 9 WHERE id <= 2000"); // after the target: must not be restored
        String switched = query("SELECT pg_walfile_name(pg_switch_wal())");
        org.awaitility.Awaitility.await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(200)).until(() ->
                query("SELECT coalesce(last_archived_wal, '') >= '" + switched + "' FROM pg_stat_archiver").equals("t"));
        Path work = Files.createDirectories(dir.resolve("combine"));
        List<String> members = new ArrayList<>();
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository())) {
            for (int i = 0; i < chain.size(); i++) {
                Path member = Files.createDirectories(work.resolve("m" + i));
                Process tar = new ProcessBuilder("tar", "-x", "-C", member.toString(), "-f", "-").redirectErrorStream(true).start();
                try (var object = storage.get(manifest(chain.get(i)).dataKey()).orElseThrow(); InputStream in = new ZstdInputStream(object.content());
                     OutputStream out = tar.getOutputStream()) {
                    in.transferTo(out);
                }
                assertThat(tar.waitFor()).isZero();
                // As README says for a tar PostgreSQL compressed: its backup_manifest comes from the object beside it.
                assertThat(member.resolve("backup_manifest")).doesNotExist();
                try (var object = storage.get(manifest(chain.get(i)).backupManifest().key()).orElseThrow();
                     InputStream in = new ZstdInputStream(object.content())) {
                    Files.copy(in, member.resolve("backup_manifest"));
                }
                members.add("/r/m" + i);
            }
        }
        Files.writeString(work.resolve("auth"), "Authorization: Bearer " + PgwardenFixture.TOKEN + "\n");
        String restore = "curl --fail -sS -H @/r/auth -o %p http://host.docker.internal:" + port + "/v1/clusters/" + CLUSTER + "/wal/%f";
        String script = """
                set -e
                export PGPASSWORD='%s'
                pg_combinebackup %s -o /r/data
                printf "%%s\\n" "restore_command = '%s'" "recovery_target = 'immediate'" "recovery_target_action = 'promote'" \\
                  "archive_mode = off" >> /r/data/postgresql.auto.conf
                touch /r/data/recovery.signal
                chown -R postgres:postgres /r/data /r/auth; chmod 700 /r/data
                runuser -u postgres -- postgres -D /r/data -c listen_addresses= -c unix_socket_directories=/tmp >/r/server.log 2>&1 &
                for i in $(seq 1 120); do
                  if [ "$(runuser -u postgres -- psql -h /tmp -At -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; then break; fi
                  sleep 0.5
                done
                runuser -u postgres -- psql -h /tmp -At -c "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM (SELECT batch, count(*) n FROM t GROUP BY batch) s"
                """.formatted(PASSWORD, String.join(" ", members), restore);
        var r = Processes.run(List.of("docker", "run", "--rm", "--add-host", "host.docker.internal:host-gateway", "-v", work + ":/r",
                PgContainer.image(17), "bash", "-c", script), null);
        assertThat(r.exitCode()).as(r.stdout() + r.stderr() + "\n" + readIfExists(work.resolve("server.log"))).isZero();
        assertThat(r.stdout().strip()).isEqualTo(expected);
    }

    /** pgwarden's own restore of the chain: into a new volume, pg_combinebackup in a sidecar of 17, recovered to a time. */
    @Test
    @Order(6)
    void restoreStartCombinesTheChainAndRecoversToATimeAfterTheLastIncremental() throws Exception {
        var restored = Launcher.run("restore", "--config", pgwarden.configFile().toString(), "--cluster", CLUSTER, "--target-time",
                afterLastBackup.toString(), "--start", "--port", Integer.toString(TestDirs.freePort()), "--archive-mode", "off");
        java.util.regex.Matcher names = java.util.regex.Pattern.compile("started in container (\\S+) on volume (\\S+),").matcher(restored.stdout());
        assertThat(names.find()).as(restored.stdout() + restored.stderr()).isTrue();
        try {
            assertThat(restored.exitCode()).as(restored.stderr()).isZero();
            assertThat(restored.stdout()).contains("base backup:   " + chain.get(2))
                    .contains("incremental:   combined with " + chain.get(0) + ", " + chain.get(1));
            var rows = Processes.checked(Processes.run(List.of("docker", "exec", "-u", "postgres", "-e", "PGPASSWORD=" + PASSWORD, names.group(1),
                    "psql", "-X", "-At", "-h", "/pgwarden-restore", "-d", "postgres", "-c", BATCHES), null), "psql in the restored container");
            assertThat(rows.stdout().strip()).isEqualTo(expected);
        } finally {
            Processes.run(List.of("docker", "rm", "-f", names.group(1)), null);
            Processes.run(List.of("docker", "volume", "rm", names.group(2)), null);
        }
    }

    /**
     * Into a directory on this host (the CLI without --start, as the admin API does): each member unpacked into the
     * target, pg_combinebackup of 17 in a sidecar seeing the directory at the same path; a PostgreSQL 17 started on
     * that directory recovers to exactly the rows at the target.
     */
    @Test
    @Order(7)
    void restoreIntoADirectoryCombinesTheChainAndRecoversToATimeAfterTheLastIncremental() throws Exception {
        Path target = dir.resolve("restored");
        var restored = Launcher.run("restore", "--config", pgwarden.configFile().toString(), "--cluster", CLUSTER, "--target-time",
                afterLastBackup.toString(), "--target-dir", target.toString(), "--restore-command", "daemon");
        assertThat(restored.exitCode()).as(restored.stdout() + restored.stderr()).isZero();
        assertThat(restored.stdout()).contains("restored base backup " + chain.get(2) + " (incremental, combined with " + chain.get(0) + ", "
                + chain.get(1) + ") into " + target);
        assertThat(target.resolve("PG_VERSION")).hasContent("17\n");
        assertThat(target.resolve("recovery.signal")).exists();
        assertThat(target.resolve(".pgwarden-chain")).as("the unpacked members").doesNotExist();
        assertThat(Processes.run(List.of("docker", "ps", "-aq", "--filter", "label=io.pgwarden.job=combine"), null).stdout()).as("sidecar left").isEmpty();
        String script = """
                set -e
                chown -R postgres:postgres "$D" "$D.pgwarden-auth-header"
                runuser -u postgres -- postgres -D "$D" -c listen_addresses= -c unix_socket_directories=/tmp -c archive_mode=off \
                  -c port=5432 >"$D.log" 2>&1 &
                for i in $(seq 1 120); do
                  if [ "$(runuser -u postgres -- psql -h /tmp -At -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; then break; fi
                  sleep 0.5
                done
                runuser -u postgres -- psql -h /tmp -At -c "%s"
                """.formatted(BATCHES);
        var r = Processes.run(List.of("docker", "run", "--rm", "--network", "host", "-e", "D=" + target, "-e", "PGPASSWORD=" + PASSWORD, "-v", dir + ":" + dir,
                PgContainer.image(17), "bash", "-c", script), null);
        assertThat(r.exitCode()).as(r.stdout() + r.stderr() + "\n" + readIfExists(dir.resolve("restored.log"))).isZero();
        assertThat(r.stdout().strip()).isEqualTo(expected);
    }

    /** The admin API's restore into a directory (on the daemon's host) combines the chain the same way. */
    @Test
    @Order(7)
    void theAdminApisRestoreIntoADirectoryCombinesTheChain() throws Exception {
        Path target = dir.resolve("restored-by-api");
        var started = pgwarden.admin("POST", "/v1/clusters/" + CLUSTER + "/restores", """
                {"targetTime": "%s", "targetDir": "%s"}""".formatted(afterLastBackup, target));
        assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
        String id = RepositoryJson.MAPPER.readTree(started.body()).get("id").asText();
        JsonNode[] status = new JsonNode[1];
        org.awaitility.Awaitility.await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(300)).until(() -> {
            status[0] = RepositoryJson.MAPPER.readTree(pgwarden.admin("GET", "/v1/clusters/" + CLUSTER + "/restores/" + id, null).body());
            return !status[0].get("state").asText().equals("running");
        });
        assertThat(status[0].get("state").asText()).as(status[0].toString()).isEqualTo("succeeded");
        assertThat(status[0].get("backupId").asText()).isEqualTo(chain.get(2));
        assertThat(target.resolve("PG_VERSION")).hasContent("17\n");
        assertThat(target.resolve("backup_manifest")).as("pg_combinebackup's manifest of the combined directory").exists();
        assertThat(target.resolve(".pgwarden-chain")).doesNotExist();
    }

    /**
     * The process runner with PostgreSQL 17's binaries on its host: pgwarden's CLI run inside the PostgreSQL 17 image
     * (the host's Java and pgwarden mounted; Debian 12 has no PostgreSQL 17 package), combining with that host's
     * pg_combinebackup; pg_verifybackup then checks every file of the combined directory against its manifest.
     */
    @Test
    @Order(8)
    void theProcessRunnerCombinesTheChainWithTheHostsPgCombinebackup() throws Exception {
        Path config = dir.resolve("process-runner-17.yml");
        Files.writeString(config, Files.readString(pgwarden.configFile()).replaceAll("(?m)^( *)runner: .*$", "$1runner: {type: process}"));
        Path target = dir.resolve("restored-by-process-runner");
        Path home = Launcher.executable().getParent().getParent();
        var r = Processes.run(List.of("docker", "run", "--rm", "--network", "host", "-v", dir + ":" + dir, "-v", home + ":" + home + ":ro",
                "-v", "/usr/lib/jvm:/usr/lib/jvm:ro", PgContainer.image(17), "bash", "-c", "\"$0\" restore --config \"$1\" --cluster " + CLUSTER
                        + " --target-time " + afterLastBackup + " --target-dir \"$2\" --restore-command daemon"
                        + " && /usr/lib/postgresql/17/bin/pg_verifybackup --no-parse-wal \"$2\"",
                Launcher.executable().toString(), config.toString(), target.toString()), null);
        assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
        assertThat(r.stdout()).contains("restored base backup " + chain.get(2) + " (incremental, combined with " + chain.get(0) + ", "
                + chain.get(1) + ") into " + target).contains("backup successfully verified");
        assertThat(target.resolve("PG_VERSION")).hasContent("17\n");
        assertThat(target.resolve(".pgwarden-chain")).doesNotExist();
    }

    /**
     * A runner whose binaries lack pg_combinebackup (PostgreSQL 15's here): refused before a byte is downloaded,
     * naming the tool, the chain and the way out; the target stays empty.
     */
    @Test
    @Order(8)
    void aRunnerWithoutPgCombinebackupIsRefusedBeforeAnythingIsWritten() throws Exception {
        Path config = dir.resolve("process-runner.yml");
        Files.writeString(config, Files.readString(pgwarden.configFile()).replaceAll("(?m)^( *)runner: .*$",
                "$1runner: {type: process, binDir: /usr/lib/postgresql/15/bin}"));
        Path target = dir.resolve("refused");
        var refused = Launcher.run("restore", "--config", config.toString(), "--cluster", CLUSTER, "--target-time",
                afterLastBackup.toString(), "--target-dir", target.toString(), "--restore-command", "daemon");
        assertThat(refused.exitCode()).as(refused.stdout() + refused.stderr()).isEqualTo(4);
        assertThat(refused.stderr()).contains("base backup " + chain.get(2) + " is incremental: restoring it combines " + chain.get(0) + " + "
                + chain.get(1) + " + " + chain.get(2) + " with pg_combinebackup, which is not usable here: tool 'pg_combinebackup' not found in"
                + " '/usr/lib/postgresql/15/bin'").contains("HINT: install PostgreSQL 17's server tools (runner.binDir), or restore the full"
                + " backup with --backup " + chain.get(0));
        try (var left = Files.list(target)) {
            assertThat(left.toList()).as("written into the target").isEmpty();
        }
    }

    /** The test restore takes the newest backup, the incremental one, combined with its chain. */
    @Test
    @Order(9)
    void aTestRestoreRestoresTheChain() throws Exception {
        JsonNode run = pgwarden.startAndAwait("/v1/clusters/" + CLUSTER + "/restore-tests", null, "/v1/clusters/" + CLUSTER + "/runs/",
                Duration.ofMinutes(4));
        assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("succeeded");
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository());
             var object = storage.get(CLUSTER + "/restore-test/" + run.get("id").asText() + ".json").orElseThrow()) {
            assertThat(RepositoryJson.MAPPER.readTree(object.content()).get("backupId").asText()).isEqualTo(chain.get(2));
        }
        assertThat(Processes.run(List.of("docker", "volume", "ls", "-q", "--filter", "label=io.pgwarden.instance=it-incremental"), null).stdout())
                .as("scratch volumes left").isEmpty();
    }

    /** Keeping only the newest backup keeps the chain it builds on; the older full backup outside the chain goes. */
    @Test
    @Order(10)
    void aPruneKeepingOneBackupKeepsTheWholeChainOfThatBackup() throws Exception {
        restartWith("baseBackup: {incrementalFallback: full}\n    retention: {base: {keepLast: 1}}");
        var prune = Launcher.run("prune", "--config", pgwarden.configFile().toString(), "--cluster", CLUSTER);
        assertThat(prune.exitCode()).as(prune.stdout() + prune.stderr()).isZero();
        for (String id : chain) assertThat(pgwarden.repositoryKeys(CLUSTER + "/base/" + id + "/")).as("member " + id).contains(
                CLUSTER + "/base/" + id + "/manifest.json", CLUSTER + "/base/" + id + "/base.tar.zst");
        assertThat(pgwarden.repositoryKeys(CLUSTER + "/base/" + fallbackFull + "/")).as("the full backup before the chain").isEmpty();
    }

    /** A member of the chain with one byte flipped: the restore stops naming the object, before the server starts. */
    @Test
    @Order(11)
    void aCorruptedMemberOfTheChainIsRefusedWithItsKey() throws Exception {
        String key = CLUSTER + "/base/" + chain.get(1) + "/base.tar.zst";
        flipAByteIn(key);
        var restored = Launcher.run("restore", "--config", pgwarden.configFile().toString(), "--cluster", CLUSTER, "--target-time",
                afterLastBackup.toString(), "--start", "--port", Integer.toString(TestDirs.freePort()), "--archive-mode", "off");
        assertThat(restored.exitCode()).as(restored.stdout() + restored.stderr()).isEqualTo(5);
        assertThat(restored.stderr()).contains(key);
        // Other test classes may run restored servers meanwhile: ours are those on a volume named after this cluster.
        String restoredMounts = Processes.run(List.of("docker", "ps", "-a", "--no-trunc", "--filter", "label=io.pgwarden.restored-by",
                "--format", "{{.Mounts}}"), null).stdout();
        assertThat(restoredMounts).as("no server left").doesNotContain("pgwarden-restore-" + CLUSTER + "-");
        assertThat(Processes.run(List.of("docker", "volume", "ls", "-q", "--filter", "name=pgwarden-restore-" + CLUSTER + "-"), null).stdout())
                .as("no volume left").isEmpty();
    }

    /**
     * The newest backup's stored backup_manifest fails its checksum: configured to, the next incremental is a full one;
     * otherwise it fails naming the object, and nothing is stored.
     */
    @Test
    @Order(12)
    void anIncrementalOnAParentWhoseManifestIsCorruptFallsBackOnlyWhenConfigured() throws Exception {
        flipAByteIn(CLUSTER + "/base/" + chain.get(2) + "/backup_manifest.zst");
        JsonNode run = backup("incremental");
        assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("succeeded");
        String full = run.get("id").asText();
        assertThat(manifest(full).kind()).isEqualTo("full");

        restartWith("");
        String key = CLUSTER + "/base/" + full + "/backup_manifest.zst";
        flipAByteIn(key);
        JsonNode refused = backup("incremental");
        assertThat(refused.get("state").asText()).as(refused.toString()).isEqualTo("failed");
        assertThat(refused.get("errorCode").asText()).isEqualTo("INTEGRITY");
        assertThat(refused.toString()).contains(key);
        assertThat(pgwarden.repositoryKeys(CLUSTER + "/base/" + refused.get("id").asText() + "/")).as("nothing stored").isEmpty();
    }

    private void flipAByteIn(String key) throws Exception {
        Path file = dir.resolve("repo").resolve(key);
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 0x40;
        Files.write(file, bytes);
    }

    /** The daemon again, its cluster configured with {@code clusterYaml} more. */
    private void restartWith(String clusterYaml) throws Exception {
        pgwarden.close();
        Path config = PgwardenFixture.writeContainerClusterConfig(dir, port, "it-incremental", CLUSTER, pg, PASSWORD);
        // With runner.streamDir PostgreSQL compresses (baseBackup.compressOn: auto): the chain's tars hold no backup_manifest,
        // which every restore adds from the object stored beside each.
        Files.writeString(config, Files.readString(config).replace("pull: never}", "pull: never, streamDir: " + dir.resolve("stream") + "}"));
        if (!clusterYaml.isEmpty()) Files.writeString(config, Files.readString(config).stripTrailing() + "\n    " + clusterYaml + "\n");
        pgwarden = PgwardenFixture.startWithConfig(dir, config);
    }

    private static String readIfExists(Path p) throws Exception {
        return Files.exists(p) ? Files.readString(p) : "";
    }

    private JsonNode backup(String kind) throws Exception {
        return pgwarden.startAndAwait("/v1/clusters/" + CLUSTER + "/backups?kind=" + kind, null, "/v1/clusters/" + CLUSTER + "/runs/",
                Duration.ofMinutes(3));
    }

    private BaseBackupManifest manifest(String id) throws Exception {
        try (StorageDriver storage = StorageFactory.create(pgwarden.config().repository());
             var object = storage.get(CLUSTER + "/base/" + id + "/manifest.json").orElseThrow()) {
            return RepositoryJson.MAPPER.readValue(object.content(), BaseBackupManifest.class);
        }
    }

    private String query(String sql) {
        return pg.psql().query("postgres", sql).strip();
    }
}
