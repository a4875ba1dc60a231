package io.pgwarden.it.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.BlackHole;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * bin/pgwarden-wal-push, the archive_command that pushes the next ready WAL files ahead: a real PostgreSQL archives
 * through it, every file byte-identical; a file pushed ahead is acknowledged from its marker without the daemon, and
 * only when the marker matches the file; a helper killed mid-push (held by a server that accepts and never answers)
 * leaves nothing taken for archived; a push refused ahead stops the helper and that file's own call reports it; names
 * in archive_status that are not WAL file names are never pushed or run.
 */
class WalPushAheadTest {
    Path dir;
    PgwardenFixture pgwarden;
    PgCluster source;

    @BeforeEach
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-push-ahead-");
        pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "");
    }

    @AfterEach
    void stop() throws Exception {
        // Helpers outlive their call by design; none may outlive the test.
        ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains("--helper"))
                .filter(p -> p.info().commandLine().orElse("").contains(dir.toString())).forEach(ProcessHandle::destroyForcibly);
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        TestDirs.delete(dir);
    }

    @Test
    void aRealClusterArchivesThroughItEveryFileByteIdentical() throws Exception {
        source = PgCluster.init(dir, "source", 1).configure("archive_mode = on", "archive_command = '" + archiveCommand(url(), 2) + "'",
                "wal_keep_size = '1GB'").start();
        source.query("CREATE TABLE t (x int)");
        // Switched faster than archived, so that ready files wait ahead of the archiver.
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            source.query("INSERT INTO t SELECT generate_series(1, 1000)");
            names.add(source.query("SELECT pg_walfile_name(pg_switch_wal())"));
        }
        source.awaitArchived(names.get(names.size() - 1), Duration.ofMinutes(2));

        assertThat(source.query("SELECT failed_count FROM pg_stat_archiver")).isEqualTo("0");
        for (String name : names) {
            assertThat(pgwarden.get(name).body()).as(name).isEqualTo(Files.readAllBytes(source.dataDir().resolve("pg_wal").resolve(name)));
        }
        Path spool = source.dataDir().resolve("pg_wal/pgwarden-push");
        await().atMost(Duration.ofSeconds(30)).until(() -> helperGone(spool));
        assertThat(helperErrors(spool)).isEmpty();
    }

    @Test
    void aFilePushedAheadIsAcknowledgedFromItsMarkerWithoutTheDaemon() throws Exception {
        List<Path> segments = realSegments(5);
        Path data = readyDataDirectory(segments);

        Processes.Result first = call(data, url(), name(segments.get(0)));
        assertThat(first.exitCode()).as(first.stderr()).isZero();
        markDone(data, segments.get(0));
        Path spool = data.resolve("pg_wal/pgwarden-push");
        await().atMost(Duration.ofSeconds(30)).until(() -> helperGone(spool)
                && segments.subList(1, 5).stream().allMatch(s -> Files.exists(spool.resolve(name(s) + ".ok"))));

        String url = url();
        pgwarden.close(); // from here on nothing answers at the daemon's address
        pgwarden = null;
        for (Path s : segments.subList(1, 5)) {
            Processes.Result r = call(data, url, name(s));
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            markDone(data, s);
        }

        pgwarden = PgwardenFixture.startWithConfig(dir, dir.resolve("pgwarden.yml"));
        for (Path s : segments) assertThat(pgwarden.get(name(s)).body()).as(name(s)).isEqualTo(Files.readAllBytes(s));
    }

    @Test
    void aMarkerThatDoesNotMatchItsFileIsNotTrusted() throws Exception {
        List<Path> segments = realSegments(2);
        Path data = readyDataDirectory(segments);
        Path spool = Files.createDirectories(data.resolve("pg_wal/pgwarden-push"));
        // A marker left for another file of that name (a data directory copied over this one, say): not this file.
        Path marker = spool.resolve(name(segments.get(0)) + ".ok");
        Files.copy(segments.get(0), marker);
        String url = url();
        pgwarden.close();
        pgwarden = null;

        Processes.Result refused = call(data, url, name(segments.get(0)));
        assertThat(refused.exitCode()).as("no daemon answers, and the marker is not this file's").isNotZero();

        pgwarden = PgwardenFixture.startWithConfig(dir, dir.resolve("pgwarden.yml"));
        Processes.Result pushed = call(data, url, name(segments.get(0)));
        assertThat(pushed.exitCode()).as(pushed.stderr()).isZero();
        assertThat(pgwarden.get(name(segments.get(0))).body()).isEqualTo(Files.readAllBytes(segments.get(0)));
        assertThat(Files.isSameFile(marker, data.resolve("pg_wal").resolve(name(segments.get(0))))).as("the marker is now this file's").isTrue();
    }

    @Test
    void aHelperKilledMidPushLeavesNothingTakenForArchived() throws Exception {
        List<Path> segments = realSegments(3);
        Path data = readyDataDirectory(segments);
        Path spool = Files.createDirectories(data.resolve("pg_wal/pgwarden-push"));
        int holePort = TestDirs.freePort();
        String holeUrl = "http://127.0.0.1:" + holePort + "/v1/clusters/main/wal/";
        try (BlackHole hole = new BlackHole(holePort)) {
            Process helper = new ProcessBuilder(List.of("sh", Launcher.walPushScript().toString(), "--url", holeUrl, "--header",
                    header().toString(), "--ahead", "2", "--helper", "pg_wal/" + name(segments.get(0)), name(segments.get(0))))
                    .directory(data.toFile()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            // Both workers upload into a server that accepts and never answers.
            await().atMost(Duration.ofSeconds(30)).until(() -> helper.descendants().filter(p -> p.info().command().orElse("").endsWith("curl")).count() == 2);
            List<ProcessHandle> all = helper.descendants().toList();
            helper.destroyForcibly(); // kill -9 of the helper and its workers mid-upload
            all.forEach(ProcessHandle::destroyForcibly);
            helper.waitFor();
        }
        assertThat(namesIn(spool)).noneMatch(n -> n.endsWith(".ok"));
        assertThat(call(data, holeUrl, name(segments.get(0))).exitCode()).as("nothing answers there now: not archived").isNotZero();

        // The archiver's calls push what the dead helper was sending; the helper they start takes over its lock.
        for (Path s : segments) {
            Processes.Result r = call(data, url(), name(s));
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            markDone(data, s);
        }
        for (Path s : segments) assertThat(pgwarden.get(name(s)).body()).as(name(s)).isEqualTo(Files.readAllBytes(s));
        // What the helper of the refused call met is in its log.
        assertThat(helperErrors(spool)).contains("port " + holePort).contains("push failed");
    }

    @Test
    void aPushRefusedAheadStopsTheHelperAndThatFilesOwnCallReportsIt() throws Exception {
        List<Path> segments = realSegments(3);
        Path data = readyDataDirectory(segments);
        Path spool = data.resolve("pg_wal/pgwarden-push");
        // Another file of the third name is archived already: pushing this one is refused (409), never overwrites.
        byte[] other = Files.readAllBytes(segments.get(2));
        other[other.length / 2] ^= 0x01;
        assertThat(pgwarden.put(name(segments.get(2)), other).statusCode()).isEqualTo(201);

        assertThat(call(data, url(), name(segments.get(0))).exitCode()).isZero();
        markDone(data, segments.get(0));
        await().atMost(Duration.ofSeconds(30)).until(() -> helperGone(spool) && Files.exists(spool.resolve(name(segments.get(1)) + ".ok")));
        assertThat(helperErrors(spool)).contains(name(segments.get(2)) + ": push failed").contains("409");
        assertThat(spool.resolve(name(segments.get(2)) + ".ok")).doesNotExist();

        assertThat(call(data, url(), name(segments.get(1))).exitCode()).isZero();
        markDone(data, segments.get(1));
        Processes.Result refused = call(data, url(), name(segments.get(2)));
        assertThat(refused.exitCode()).as("curl --fail on the daemon's 409").isEqualTo(22);
        assertThat(refused.stderr()).contains("409");
        assertThat(pgwarden.get(name(segments.get(2))).body()).as("the stored file is kept").isEqualTo(other);
    }

    @Test
    void namesInArchiveStatusThatAreNotWalFileNamesAreNeverPushedOrRun() throws Exception {
        List<Path> segments = realSegments(2);
        Path data = readyDataDirectory(segments);
        Path status = data.resolve("pg_wal/archive_status");
        for (String hostile : List.of("$(touch pwned)", "`touch pwned2`", "a b", "-K", ".hidden", "000000010000000000000099;touch pwned")) {
            Files.writeString(data.resolve("pg_wal").resolve(hostile), "not WAL");
            Files.writeString(status.resolve(hostile + ".ready"), "");
        }

        assertThat(call(data, url(), name(segments.get(0))).exitCode()).isZero();
        Path spool = data.resolve("pg_wal/pgwarden-push");
        await().atMost(Duration.ofSeconds(30)).until(() -> helperGone(spool) && Files.exists(spool.resolve(name(segments.get(1)) + ".ok")));

        assertThat(namesIn(spool)).filteredOn(n -> n.endsWith(".ok")).containsExactlyInAnyOrder(name(segments.get(0)) + ".ok", name(segments.get(1)) + ".ok");
        assertThat(helperErrors(spool)).isEmpty();
        for (Path d : List.of(data, data.resolve("pg_wal"), dir)) {
            assertThat(d.resolve("pwned")).doesNotExist();
            assertThat(d.resolve("pwned2")).doesNotExist();
        }
        assertThat(pgwarden.walKeys()).noneMatch(k -> k.contains("pwned") || k.contains("hidden") || k.contains("-K") || k.contains(" "));
    }

    /** A pg_wal/pgwarden-push that is not a directory, or a lock that cannot be opened: each call pushes its own file. */
    @Test
    void aSpoolItCannotUseLeavesEachCallToPushItsOwnFile() throws Exception {
        List<Path> segments = realSegments(2);
        Path data = readyDataDirectory(segments);
        Path spool = data.resolve("pg_wal/pgwarden-push");
        Files.writeString(spool, "not a directory");
        Processes.Result first = call(data, url(), name(segments.get(0)));
        assertThat(first.exitCode()).as(first.stderr()).isZero();
        markDone(data, segments.get(0));

        Files.delete(spool);
        Files.createDirectories(spool.resolve(name(segments.get(1)) + ".lock")); // a directory where its lock file goes
        Processes.Result second = call(data, url(), name(segments.get(1)));
        assertThat(second.exitCode()).as(second.stderr()).isZero();
        for (Path s : segments) assertThat(pgwarden.get(name(s)).body()).as(name(s)).isEqualTo(Files.readAllBytes(s));
    }

    @Test
    void badArgumentsExit2WithTheReason() throws Exception {
        Path data = Files.createDirectories(dir.resolve("data/pg_wal")).getParent();
        String f = "000000010000000000000001";
        assertThat(run(data, List.of("--header", header().toString(), "pg_wal/" + f, f))).isEqualTo(
                new Processes.Result(2, "", "pgwarden-wal-push: --url must be the cluster's WAL URL ending in /wal/, got ''\n"));
        assertThat(run(data, List.of("--url", url(), "--header", header().toString(), "--ahead", "17", "pg_wal/" + f, f)).stderr())
                .isEqualTo("pgwarden-wal-push: --ahead must be a number of files from 0 to 16, got '17'\n");
        assertThat(run(data, List.of("--url", url(), "--header", dir.resolve("missing").toString(), "pg_wal/" + f, f)).stderr())
                .isEqualTo("pgwarden-wal-push: cannot read the header file '" + dir.resolve("missing") + "'\n");
        assertThat(run(data, List.of("--url", url(), "--header", header().toString(), "pg_wal/x;rm -rf y", "x;rm -rf y")).stderr())
                .isEqualTo("pgwarden-wal-push: 'x;rm -rf y' is not a WAL file name\n");
        assertThat(run(data, List.of("--url", url(), "--header", header().toString(), "pg_wal/" + f, "000000010000000000000002")).stderr())
                .isEqualTo("pgwarden-wal-push: 'pg_wal/" + f + "' does not name the file '000000010000000000000002' (pass %p %f)\n");
        assertThat(run(data, List.of("--url", url(), "--header", header().toString(), "--retries", "3", "pg_wal/" + f, f)).exitCode()).isEqualTo(2);
    }

    private String archiveCommand(String url, int ahead) {
        return Launcher.walPushScript() + " --url " + url + " --header " + header() + " --ahead " + ahead + " %p %f";
    }

    private Path header() {
        return dir.resolve("auth-header");
    }

    private String url() {
        return pgwarden.baseUrl() + "/v1/clusters/main/wal/";
    }

    private static String name(Path segment) {
        return segment.getFileName().toString();
    }

    /** The call PostgreSQL's archiver makes, from the data directory. */
    private Processes.Result call(Path data, String url, String name) {
        return run(data, List.of("--url", url, "--header", header().toString(), "--ahead", "2", "pg_wal/" + name, name));
    }

    private static Processes.Result run(Path data, List<String> args) {
        List<String> command = new ArrayList<>(List.of(Launcher.walPushScript().toString()));
        command.addAll(args);
        return Processes.run(command, data);
    }

    /** n real segments of a 1 MB-segment cluster, copied aside by its archive_command. */
    private List<Path> realSegments(int n) throws Exception {
        Path archived = TestDirs.forPostgres(dir, "archived");
        source = PgCluster.init(dir, "source", 1).configure("archive_mode = on", "archive_command = 'cp %p " + archived + "/%f'").start();
        source.query("CREATE TABLE t (x int)");
        return source.writeAndArchive(n).stream().map(archived::resolve).toList();
    }

    /** A data directory whose pg_wal is as the archiver leaves it: the segments, archive_status/*.ready. */
    private Path readyDataDirectory(List<Path> segments) throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        Path status = Files.createDirectories(data.resolve("pg_wal/archive_status"));
        for (Path s : segments) {
            Files.copy(s, data.resolve("pg_wal").resolve(s.getFileName()));
            Files.writeString(status.resolve(name(s) + ".ready"), "");
        }
        return data;
    }

    /** What PostgreSQL does after archive_command's exit 0. */
    private static void markDone(Path data, Path segment) throws Exception {
        Path status = data.resolve("pg_wal/archive_status");
        Files.move(status.resolve(name(segment) + ".ready"), status.resolve(name(segment) + ".done"));
    }

    /** No helper runs for this spool (its pid file names a process that is gone). */
    private static boolean helperGone(Path spool) throws Exception {
        Path pid = spool.resolve(".helper.pid");
        if (!Files.exists(pid)) return false;
        return ProcessHandle.of(Long.parseLong(Files.readString(pid).strip())).map(p -> !p.isAlive()).orElse(true);
    }

    private static String helperErrors(Path spool) throws Exception {
        Path log = spool.resolve(".helper.log");
        return Files.exists(log) ? Files.readString(log) : "";
    }

    private static List<String> namesIn(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).toList();
        }
    }
}
