package io.pgwarden.it.scale;

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
import io.pgwarden.repository.RunIds;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Three daemons share one scheduler store (Quartz's clustered JDBC job store in a real PostgreSQL) and one S3
 * repository (S3Proxy), and back up one PostgreSQL whose archive_command pushes to them in turn; tools run in
 * sidecars. The scheduled part runs five minutes (a schedule every minute, five times: the issue's own figure, and
 * the shortest a minutely cron can show "exactly once" and a takeover between two fire times).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusteredDaemonsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int DAEMONS = 3;
    static final String STORE_DB = "scheduler";
    final HttpClient http = HttpClient.newHttpClient();

    Path dir;
    S3Server s3;
    PgCluster source;
    PgCluster store;
    final int[] ports = new int[DAEMONS];
    final Process[] daemons = new Process[DAEMONS];
    final Path[] configs = new Path[DAEMONS];

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-clustered-");
        s3 = new S3Server().start();
        s3.createBucket("shared");
        store = PgCluster.init(dir, "store", 16).start();
        store.sql("CREATE DATABASE " + STORE_DB);
        source = PgCluster.init(dir, "source", 1);
        // Archiving waits for the first pushes below, made by the test itself.
        source.configure("archive_mode = on", "archive_command = '/bin/false'", "wal_keep_size = '1GB'").start();
        source.sql("CREATE DATABASE app");
        try (Connection c = source.connect("app"); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g");
        }
        for (int i = 0; i < DAEMONS; i++) ports[i] = TestDirs.freePort();
        for (int i = 0; i < DAEMONS; i++) {
            configs[i] = writeConfig(i, "");
            daemons[i] = startDaemon(i);
        }
    }

    @AfterAll
    void stop() throws Exception {
        for (Process d : daemons) if (d != null) d.destroyForcibly().waitFor();
        if (source != null) source.close();
        if (store != null) store.close();
        if (s3 != null) s3.close();
        TestDirs.delete(dir);
    }

    @Test
    @Order(1)
    void theFirstPushesOfOneSegmentThroughThreeDaemonsAtOnceStoreItOnce() throws Exception {
        String segment = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
        source.query("SELECT pg_switch_wal()");
        byte[] body = Files.readAllBytes(source.dataDir().resolve("pg_wal").resolve(segment));

        // Also the first pushes of the cluster: cluster.json is created by exactly one of them.
        CountDownLatch go = new CountDownLatch(1);
        List<Integer> statuses = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(DAEMONS)) {
            List<Future<Integer>> pushes = new ArrayList<>();
            for (int i = 0; i < DAEMONS; i++) {
                int port = ports[i];
                pushes.add(pool.submit(() -> {
                    go.await();
                    return push(port, segment, body).statusCode();
                }));
            }
            go.countDown();
            for (Future<Integer> f : pushes) statuses.add(f.get());
        }
        assertThat(statuses).as("one push stores, the others find the identical file").containsExactlyInAnyOrder(201, 200, 200);
        try (StorageDriver storage = storage()) {
            assertThat(keys(storage, "main/wal/")).filteredOn(k -> k.contains(segment)).hasSize(1);
            assertThat(keys(storage, "main/cluster.json")).hasSize(1);
        }
        for (int i = 0; i < DAEMONS; i++) {
            HttpResponse<byte[]> fetched = fetch(ports[i], segment);
            assertThat(fetched.statusCode()).isEqualTo(200);
            assertThat(fetched.body()).isEqualTo(body);
        }

        // From now on PostgreSQL pushes to the daemons in turn: a failed push is retried on the next one.
        Path archiver = TestDirs.forPostgres(dir, "archiver");
        Path script = archiver.resolve("push.sh");
        Files.writeString(script, """
                #!/bin/sh
                n=$(cat %1$s/turn 2>/dev/null || echo 0)
                echo $(( (n + 1) %% 3 )) > %1$s/turn
                case $n in 0) port=%2$d;; 1) port=%3$d;; *) port=%4$d;; esac
                echo "$port $2" >> %1$s/pushes.log
                exec curl --fail -sS -H @%5$s -T "$1" "http://127.0.0.1:$port/v1/clusters/main/wal/$2"
                """.formatted(archiver, ports[0], ports[1], ports[2], dir.resolve("auth-header")));
        Processes.checked(Processes.run(List.of("chmod", "755", script.toString()), null), "chmod");
        source.sql("ALTER SYSTEM SET archive_command = '" + script + " %p %f'", "SELECT pg_reload_conf()");
        String next = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
        source.query("SELECT pg_switch_wal()");
        source.awaitArchived(next, Duration.ofMinutes(1));
    }

    @Test
    @Order(2)
    void aRunStartedThroughOneDaemonHoldsItsSlotAndShowsItsStateOnEveryDaemon() throws Exception {
        String id;
        try (Connection lock = lockTable()) {
            // The dump waits for the lock: it stays running while the other daemons are asked.
            HttpResponse<String> started = admin(ports[0], "POST", "/v1/clusters/main/backups?kind=dump&database=app");
            assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
            id = JSON.readTree(started.body()).get("id").asText();
            for (int i = 1; i < DAEMONS; i++) assertThat(run(ports[i], id).get("state").asText()).isEqualTo("running");

            HttpResponse<String> second = admin(ports[2], "POST", "/v1/clusters/main/backups?kind=dump&database=app");
            assertThat(second.statusCode()).as(second.body()).isEqualTo(409);
            assertThat(second.body()).contains("run " + id).contains("on daemon 'd1'").contains("nothing was started");
            lock.rollback();
        }
        for (int i = 1; i < DAEMONS; i++) {
            int port = ports[i];
            await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(300))
                    .until(() -> run(port, id).get("state").asText().equals("succeeded"));
        }
        HttpResponse<String> unknown = admin(ports[1], "GET", "/v1/clusters/main/runs/20990101T000000Z-0000");
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(unknown.body()).contains("has no run '20990101T000000Z-0000' in the scheduler store");
        // A restore into a directory belongs to the daemon whose host holds it: another daemon says where to ask.
        HttpResponse<String> restore = admin(ports[1], "GET", "/v1/clusters/main/restores/20990101T000000Z-0000");
        assertThat(restore.statusCode()).isEqualTo(404);
        assertThat(restore.body()).contains("a restore belongs to the daemon that took the request, whose host holds its directory: ask that daemon");
    }

    @Test
    @Order(3)
    void whileTheStoreIsDownPushesGoOnAndRunsAreRefusedAndAfterItsRestartNoLiveRunCountsAsInterrupted() throws Exception {
        String segment = source.query("SELECT last_archived_wal FROM pg_stat_archiver");
        try (Connection lock = lockTable()) {
            HttpResponse<String> started = admin(ports[0], "POST", "/v1/clusters/main/backups?kind=dump&database=app");
            assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
            String id = JSON.readTree(started.body()).get("id").asText();

            store.stop();
            HttpResponse<String> refused = admin(ports[1], "POST", "/v1/clusters/main/backups?kind=base");
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
            assertThat(refused.body()).contains("cannot record the start of run").contains("nothing was started");
            for (int i = 0; i < DAEMONS; i++) {
                assertThat(fetch(ports[i], segment).statusCode()).as("WAL is served without the store").isEqualTo(200);
            }
            String next = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
            source.query("SELECT pg_switch_wal()");
            source.awaitArchived(next, Duration.ofMinutes(1));

            // Every session ended with the restart: the daemons take their presence locks again before anyone
            // counts the dump, still waiting for its lock on d1, as interrupted.
            store.start();
            Thread.sleep(20_000);
            assertThat(run(ports[1], id).get("state").asText()).as(run(ports[1], id).toString()).isEqualTo("running");
            lock.rollback();
            await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(300))
                    .until(() -> run(ports[2], id).get("state").asText().equals("succeeded"));
        }
    }

    @Test
    @Order(4)
    void aSecondDaemonWithTheSameInstanceNameAndARoleThatMayNotCreateTablesAreRefused() throws Exception {
        Path twin = dir.resolve("twin.yml");
        Files.writeString(twin, Files.readString(configs[0]).replace("127.0.0.1:" + ports[0], "127.0.0.1:" + TestDirs.freePort()));
        Processes.Result refused = Launcher.run("run", "--config", twin.toString());
        assertThat(refused.exitCode()).isEqualTo(2);
        assertThat(refused.stderr()).contains("another pgwarden daemon named 'd1' (server.instance) is connected to the scheduler store");

        store.sql("CREATE ROLE weak LOGIN", "CREATE DATABASE weakstore");
        Path weak = dir.resolve("weak.yml");
        Files.writeString(weak, Files.readString(configs[0]).replace("127.0.0.1:" + ports[0], "127.0.0.1:" + TestDirs.freePort())
                .replace("/" + STORE_DB + "\", user: postgres}", "/weakstore\", user: weak}"));
        Processes.Result denied = Launcher.run("run", "--config", weak.toString());
        assertThat(denied.exitCode()).as(denied.stderr()).isEqualTo(2);
        assertThat(denied.stderr()).contains("scheduler store jdbc:postgresql://127.0.0.1:" + store.port() + "/weakstore (user 'weak'): cannot"
                + " create Quartz's tables").contains("permission denied for schema public").contains("HINT: GRANT CREATE ON SCHEMA public TO weak");
        assertThat(store.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", "weakstore")).isEqualTo("0");
    }

    @Test
    @Order(5)
    void eachScheduledTimeRunsOnceAndADeadDaemonsRunIsFoundAndItsScheduleTakenOver() throws Exception {
        // Every daemon restarted with a schedule every minute: the stored triggers are replaced once, then kept.
        for (int i = 0; i < DAEMONS; i++) {
            configs[i] = writeConfig(i, "schedules: {base: \"* * * * *\", dump: \"* * * * *\"}\n");
            daemons[i].destroy();
            daemons[i].waitFor();
            daemons[i] = startDaemon(i);
        }
        AtomicBoolean writing = new AtomicBoolean(true);
        Thread wal = Thread.ofVirtual().start(() -> writeWal(writing));
        try (Connection lock = lockTable()) {
            // The first scheduled dump waits for the lock; the daemon running it is killed.
            String[] dump = new String[2];
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(300)).until(() -> {
                String row = storeQuery("SELECT id || ' ' || instance FROM pgwarden_runs WHERE kind = 'DUMP' AND trigger = 'schedule'"
                        + " AND state = 'running'");
                if (!row.isEmpty()) System.arraycopy(row.split(" "), 0, dump, 0, 2);
                return !row.isEmpty();
            });
            String id = dump[0];
            // The five fire times counted below begin with the killed dump's: a schedule may have fired while the daemons
            // restarted, in the minute before the next one.
            Instant first = Instant.parse(storeQuery("SELECT to_char(date_trunc('minute', started_at) AT TIME ZONE 'UTC',"
                    + " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM pgwarden_runs WHERE id = '" + id + "'"));
            int victim = Integer.parseInt(dump[1].substring(1)) - 1;
            String sidecar = "pgwarden-dump-" + id + "-app";
            await().atMost(Duration.ofSeconds(30)).until(() -> containers(id).contains(sidecar)
                    && storeQuery("SELECT count(*) FROM pgwarden_runs WHERE kind = 'BASE' AND state = 'running'").equals("0"));
            daemons[victim].destroyForcibly().waitFor();
            Instant killed = Instant.now();
            int survivor = (victim + 1) % DAEMONS;

            // Found by a survivor: failed, recorded in the repository, its sidecar removed.
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                    .until(() -> run(ports[survivor], id).get("state").asText().equals("failed"));
            Duration found = Duration.between(killed, Instant.now());
            JsonNode failed = run(ports[(victim + 2) % DAEMONS], id);
            assertThat(failed.get("errorCode").asText()).isEqualTo("INTERRUPTED");
            assertThat(failed.get("error").asText()).contains("daemon 'd" + (victim + 1) + "' stopped while it ran");
            await().atMost(Duration.ofSeconds(30)).until(() -> containers(id).isEmpty());
            Duration cleaned = Duration.between(killed, Instant.now());
            try (StorageDriver storage = storage()) {
                assertThat(keys(storage, "main/failures/dump/" + id + ".json")).hasSize(1);
            }
            // Quartz frees the dead daemon's triggers (its dump's trigger was blocked while the job ran).
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                    .until(() -> storeQuery("SELECT count(*) FROM qrtz_scheduler_state WHERE instance_name = 'd" + (victim + 1) + "'").equals("0"));
            Duration takenOver = Duration.between(killed, Instant.now());
            System.out.printf("takeover after kill -9: run found failed %d ms, sidecar removed %d ms, triggers freed %d ms%n",
                    found.toMillis(), cleaned.toMillis(), takenOver.toMillis());
            assertThat(takenOver).isLessThan(Duration.ofSeconds(30));
            lock.rollback();

            daemons[victim] = startDaemon(victim);
            Instant end = first.plus(Duration.ofMinutes(5));
            Thread.sleep(Math.max(0, Duration.between(Instant.now(), end.plus(Duration.ofSeconds(20))).toMillis()));
            awaitNothingRunning();

            // Five fire times: five base backups, one each minute, all succeeded; the dumps after the kill all ran.
            List<String> bases = store.queryLines("SELECT date_trunc('minute', started_at) || ' ' || state FROM pgwarden_runs WHERE kind = 'BASE'"
                    + " AND trigger = 'schedule' AND started_at >= '" + first + "' AND started_at < '" + end + "' ORDER BY started_at", STORE_DB);
            assertThat(bases).hasSize(5).allMatch(r -> r.endsWith(" succeeded"));
            assertThat(bases.stream().map(r -> r.substring(0, 16)).distinct()).hasSize(5);
            List<String> dumps = store.queryLines("SELECT state FROM pgwarden_runs WHERE kind = 'DUMP' AND trigger = 'schedule'"
                    + " AND started_at >= '" + first + "' AND started_at < '" + end + "' ORDER BY started_at", STORE_DB);
            assertThat(dumps).containsExactly("failed", "succeeded", "succeeded", "succeeded", "succeeded");
            try (StorageDriver storage = storage()) {
                // Run ids begin with their start time: the backups of the five fire times (the schedule goes on after).
                String from = RunIds.next(first).substring(0, 16);
                String to = RunIds.next(end).substring(0, 16);
                long manifests = keys(storage, "main/base/").stream().filter(k -> k.endsWith("/manifest.json"))
                        .map(k -> k.substring("main/base/".length(), "main/base/".length() + 16)).filter(t -> t.compareTo(from) >= 0 && t.compareTo(to) < 0)
                        .count();
                assertThat(manifests).as("one manifest per scheduled base backup").isEqualTo(5);
            }
        } finally {
            writing.set(false);
            wal.join();
        }
    }

    @Test
    @Order(6)
    void everySegmentPushedInTurnToTheDaemonsIsStoredOnceAndByteForByte() throws Exception {
        String last = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
        source.query("SELECT pg_switch_wal()");
        source.awaitArchived(last, Duration.ofMinutes(2));
        List<String> pushedTo = Files.readAllLines(dir.resolve("archiver/pushes.log"));
        Set<String> receivers = new HashSet<>();
        pushedTo.forEach(l -> receivers.add(l.split(" ")[0]));
        assertThat(receivers).as("every daemon received pushes").hasSize(DAEMONS);

        List<String> segments;
        try (StorageDriver storage = storage()) {
            // Segments only (not .backup files): NAME.CODEC
            segments = keys(storage, "main/wal/00000001/").stream().map(k -> k.substring(k.lastIndexOf('/') + 1))
                    .filter(n -> n.matches("[0-9A-F]{24}\\.[a-z0-9]+")).map(n -> n.substring(0, 24)).toList();
        }
        assertThat(segments).doesNotHaveDuplicates();
        assertThat(segments.size()).isGreaterThan(20);
        for (int i = 1; i < segments.size(); i++) {
            assertThat(segments.get(i)).as("no segment missing").isEqualTo(PgCluster.nextSegment(segments.get(i - 1)));
        }
        assertThat(segments.getLast()).isGreaterThanOrEqualTo(last);
        for (int i = 0; i < segments.size(); i++) {
            Path file = source.dataDir().resolve("pg_wal").resolve(segments.get(i));
            if (!Files.exists(file)) continue;
            HttpResponse<byte[]> fetched = fetch(ports[i % DAEMONS], segments.get(i));
            assertThat(fetched.statusCode()).as(segments.get(i)).isEqualTo(200);
            assertThat(fetched.body()).as(segments.get(i)).isEqualTo(Files.readAllBytes(file));
        }
    }

    private Path writeConfig(int i, String schedules) throws Exception {
        Path config = dir.resolve("d" + (i + 1) + ".yml");
        Files.writeString(config, """
                server:
                  listen: 127.0.0.1:%d
                  adminToken: %s
                  instance: d%d
                %s
                scheduler: {store: jdbc, url: "jdbc:postgresql://127.0.0.1:%d/%s", user: postgres}
                clusters:
                  main:
                    walToken: %s
                    connection: {host: 127.0.0.1, port: %d, user: postgres}
                    runner: {type: docker, image: "local/postgres:{major}", network: host, pull: never}
                    dump: {databases: [app]}
                %s
                """.formatted(ports[i], PgwardenFixture.ADMIN_TOKEN, i + 1, s3.repositoryYaml("shared", ""), store.port(), STORE_DB,
                PgwardenFixture.TOKEN, source.port(), schedules.indent(4).stripTrailing()));
        return config;
    }

    private Process startDaemon(int i) throws Exception {
        Files.writeString(dir.resolve("auth-header"), "Authorization: Bearer " + PgwardenFixture.TOKEN + "\n");
        return Launcher.startDaemon(configs[i], dir.resolve("d" + (i + 1) + ".log"), ports[i]);
    }

    private StorageDriver storage() {
        return StorageFactory.create(ConfigLoader.load(configs[0]).repository());
    }

    private static List<String> keys(StorageDriver storage, String prefix) {
        try (var listing = storage.list(prefix)) {
            return listing.map(StorageDriver.ObjectInfo::key).toList();
        }
    }

    private String storeQuery(String sql) {
        return store.query(sql, STORE_DB);
    }

    /** A transaction holding an exclusive lock on app.t: a dump waits for it until the transaction ends. */
    private Connection lockTable() throws Exception {
        Connection c = source.connect("app");
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
        }
        return c;
    }

    /** Rows and a segment switch every few seconds while the schedules run: WAL pushed to the daemons in turn. */
    private void writeWal(AtomicBoolean writing) {
        try {
            for (int i = 0; writing.get(); i++) {
                source.sql("CREATE TABLE IF NOT EXISTS w (i int)", "INSERT INTO w VALUES (" + i + ")", "SELECT pg_switch_wal()");
                Thread.sleep(4000);
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void awaitNothingRunning() {
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(500))
                .until(() -> storeQuery("SELECT count(*) FROM pgwarden_runs WHERE state = 'running'").equals("0"));
    }

    private static List<String> containers(String runId) {
        String out = Processes.checked(Processes.run(List.of("docker", "ps", "-a", "--filter", "label=io.pgwarden.run", "--format",
                "{{.Names}}"), null), "docker ps").stdout();
        return out.lines().filter(n -> n.contains(runId)).toList();
    }

    private HttpResponse<String> push(int port, String file, byte[] body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/wal/" + file))
                .header("Authorization", "Bearer " + PgwardenFixture.TOKEN).PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<byte[]> fetch(int port, String file) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/wal/" + file))
                .header("Authorization", "Bearer " + PgwardenFixture.TOKEN).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private HttpResponse<String> admin(int port, String method, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).header("Authorization", "Bearer "
                + PgwardenFixture.ADMIN_TOKEN).method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode run(int port, String id) throws Exception {
        HttpResponse<String> r = admin(port, "GET", "/v1/clusters/main/runs/" + id);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }
}
