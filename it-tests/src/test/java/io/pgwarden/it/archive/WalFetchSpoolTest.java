package io.pgwarden.it.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.restore.RestoreCommands;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * `pgwarden wal-fetch --spool`, and the standalone restore_command `pgwarden restore` writes with it: the segments
 * after the requested one wait verified in pg_wal/pgwarden-spool and the next calls move them into place; a corrupt
 * object ahead never lands there; the end of the archive empties the spool.
 */
class WalFetchSpoolTest {
    Path dir;
    PgwardenFixture pgwarden;
    PgCluster source;
    S3Server s3;
    Path data;
    /** Each restore_command call: its file, exit status, time and stderr (for a failed wait's message). */
    final StringBuilder calls = new StringBuilder();

    @BeforeEach
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-spool-");
        pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "");
        source = PgCluster.init(dir, "source", 1).configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'",
                "wal_keep_size = '1GB'", "max_wal_size = '1GB'").start();
        source.query("CREATE TABLE t (x int)");
        // What the restore_command sees as its working directory: a data directory with its pg_wal.
        data = Files.createDirectories(dir.resolve("restored").resolve("pg_wal")).getParent();
    }

    @AfterEach
    void stop() throws Exception {
        Path pid = data.resolve(RestoreCommands.SPOOL).resolve(".prefetcher.pid");
        if (Files.exists(pid)) ProcessHandle.of(Long.parseLong(Files.readString(pid).strip())).ifPresent(ProcessHandle::destroyForcibly);
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        if (s3 != null) s3.close();
        TestDirs.delete(dir);
    }

    @Test
    void theRestoreCommandMovesSegmentsFetchedAheadIntoPlaceByteIdentical() throws Exception {
        List<String> names = source.writeAndArchive(4);
        Path spool = data.resolve(RestoreCommands.SPOOL);

        var first = restoreCommand(names.get(0));
        assertThat(first.exitCode()).as(first.stderr()).isZero();
        // The prefetcher goes on after the call: 8 ahead wanted, 3 archived, then the archive's end ends it.
        awaitSpool(spool, names.subList(1, 4));
        awaitPrefetcherGone(spool);
        assertThat(filesIn(spool)).containsExactlyInAnyOrderElementsOf(names.subList(1, 4));
        assertThat(Files.readAllBytes(spool.resolve(names.get(1)))).isEqualTo(original(names.get(1)));

        for (String name : names.subList(1, 4)) {
            var r = restoreCommand(name);
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(filesIn(spool)).doesNotContain(name);
        }
        assertThat(filesIn(spool)).isEmpty();

        var end = restoreCommand(PgCluster.nextSegment(names.get(3)));
        assertThat(end.exitCode()).isEqualTo(1); // the end of the archive, as PostgreSQL must read it
        assertThat(data.resolve("pg_wal/RECOVERYXLOG")).doesNotExist();
    }

    @Test
    void aCorruptObjectAheadNeverReachesTheSpoolAndItsOwnCallReportsIt() throws Exception {
        List<String> names = source.writeAndArchive(12);
        String key = pgwarden.walKeys().stream().filter(k -> k.contains("/" + names.get(1) + ".")).findFirst().orElseThrow();
        try (var storage = io.pgwarden.storage.StorageFactory.create(pgwarden.config().repository())) {
            var info = storage.stat(key).orElseThrow();
            byte[] bytes;
            try (var stored = storage.get(key).orElseThrow()) {
                bytes = stored.content().readAllBytes();
            }
            bytes[bytes.length / 2] ^= 0x5a;
            storage.delete(key);
            storage.put(key, new java.io.ByteArrayInputStream(bytes), info.metadata());
        }

        assertThat(restoreCommand(names.get(0)).exitCode()).isZero();
        Path spool = data.resolve(RestoreCommands.SPOOL);
        // Eight ahead without the corrupt one, which the prefetcher marked for its own call (it stays alive, its
        // window full, and that call does not wait for it).
        awaitSpool(spool, names.subList(2, 10));
        assertThat(spool.resolve(".failed-" + names.get(1))).exists();
        assertThat(spool.resolve(".prefetcher.pid")).exists();

        var corrupt = restoreCommand(names.get(1));
        // wal-fetch's own exit 5 would read to PostgreSQL as the end of the archive; above 125 stops the recovery.
        assertThat(corrupt.exitCode()).isEqualTo(126);
        assertThat(corrupt.stderr()).contains("repository object '" + key + "'")
                .contains("pgwarden restore_command: " + names.get(1) + ": pgwarden wal-fetch exited with 5; stopping the recovery");
        assertThat(data.resolve("pg_wal/RECOVERYXLOG")).doesNotExist();
    }

    @Test
    void whenTheArchiveEndsLeftOverSegmentsAreRemoved() throws Exception {
        List<String> names = source.writeAndArchive(3);
        assertThat(restoreCommand(names.get(0)).exitCode()).isZero();
        Path spool = data.resolve(RestoreCommands.SPOOL);
        awaitSpool(spool, names.subList(1, 3));
        awaitPrefetcherGone(spool);
        assertThat(filesIn(spool)).hasSize(2);

        // Recovery stops asking for them (a target reached) and asks for a segment the archive does not have.
        assertThat(restoreCommand(PgCluster.nextSegment(names.get(2))).exitCode()).isEqualTo(1);
        assertThat(filesIn(spool)).isEmpty();
    }

    /**
     * The prefetcher keeps 8 segments ahead of the recovery, not 8 after the one call that started it: as the calls
     * take segments, it fetches the next ones, and each call finds its segment there (or waits for it) with no JVM.
     */
    @Test
    void thePrefetcherKeepsTheNextSegmentsComingAsTheRecoveryTakesThem() throws Exception {
        List<String> names = source.writeAndArchive(14);
        Path spool = data.resolve(RestoreCommands.SPOOL);
        assertThat(restoreCommand(names.get(0)).exitCode()).isZero();
        awaitSpool(spool, names.subList(1, 9));

        takeAll(names.subList(1, 5));
        // Four taken, four more fetched after the first call had ended: the window moved with the recovery.
        awaitSpool(spool, names.subList(5, 13));
        takeAll(names.subList(5, 14));
        assertThat(restoreCommand(PgCluster.nextSegment(names.get(13))).exitCode()).isEqualTo(1);
        awaitPrefetcherGone(spool);
        assertThat(filesIn(spool)).isEmpty();
    }

    /**
     * The calls after the first find the prefetcher the first call's shell part started (perhaps still starting) and
     * wait for the segment each asks for, which it fetches first: no JVM of their own. Their Java runtime cannot start
     * (-Xmx1k), so a JVM started for one would stop the recovery (exit 126).
     */
    @Test
    void theCallAfterTheFirstIsServedByThePrefetcherWhileItStarts() throws Exception {
        List<String> names = source.writeAndArchive(4);
        assertThat(restoreCommand(names.get(0)).exitCode()).isZero();
        for (String name : names.subList(1, 4)) {
            var r = restoreCommand(name, java.util.Map.of("PGWARDEN_JAVA_OPTS", "-Xmx1k"));
            assertThat(r.exitCode()).as(name + ": " + r.stderr()).isZero();
        }
    }

    /** A recovery that stops taking segments (a target reached short of them) does not keep them in its pg_wal. */
    @Test
    void segmentsNoRecoveryTakesAreRemovedWhenThePrefetcherIdlesOut() throws Exception {
        List<String> names = source.writeAndArchive(12);
        Path spool = data.resolve(RestoreCommands.SPOOL);
        // Idle after 5 s: long enough to fill the spool on a loaded machine, from a prefetcher JVM just started.
        assertThat(restoreCommand(names.get(0), java.util.Map.of("PGWARDEN_JAVA_OPTS", "-Dpgwarden.prefetchIdleSeconds=5")).exitCode()).isZero();
        awaitSpool(spool, names.subList(1, 9));
        awaitPrefetcherGone(spool);
        assertThat(filesIn(spool)).isEmpty();
        assertThat(prefetcherLog(spool)).contains("no segment taken or fetched for 5 s; removing the 8 segments fetched ahead (up to "
                + names.get(8) + ") and ending");
    }

    /**
     * The idle bound counts from when the prefetcher has nothing left to fetch, not from its start: against a slow
     * repository, filling the spool takes longer than the bound, and the recovery (replaying a segment meanwhile) has
     * taken nothing yet. Each GET here answers after a second (a fault injector in the test server: a distant or
     * throttled S3), so eight ahead in batches of two take about four seconds; the bound is two.
     */
    @Test
    void aSlowRepositoryFillsTheSpoolBeforeTheIdleBoundRuns() throws Exception {
        source.close();
        pgwarden.close();
        s3 = new S3Server().start();
        s3.createBucket("spool");
        pgwarden = PgwardenFixture.start(Files.createDirectories(dir.resolve("s3")), s3.repositoryYaml("spool", "p"), "");
        source = PgCluster.init(dir, "source-s3", 1).configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'",
                "wal_keep_size = '1GB'", "max_wal_size = '1GB'").start();
        source.query("CREATE TABLE t (x int)");
        List<String> names = source.writeAndArchive(10);
        s3.slowGets(Duration.ofSeconds(1), 0);

        Path spool = data.resolve(RestoreCommands.SPOOL);
        assertThat(restoreCommand(names.get(0), java.util.Map.of("PGWARDEN_JAVA_OPTS", "-Dpgwarden.prefetchIdleSeconds=2")).exitCode()).isZero();
        awaitSpool(spool, names.subList(1, 9));
        awaitPrefetcherGone(spool);
        assertThat(filesIn(spool)).isEmpty();
        assertThat(prefetcherLog(spool)).contains("removing the 8 segments fetched ahead (up to " + names.get(8) + ")");
    }

    /** A prefetcher killed with -9 leaves the recovery to the calls themselves: the next miss starts a new one. */
    @Test
    void aKilledPrefetcherIsReplacedByTheNextCall() throws Exception {
        List<String> names = source.writeAndArchive(12);
        Path spool = data.resolve(RestoreCommands.SPOOL);
        assertThat(restoreCommand(names.get(0)).exitCode()).isZero();
        awaitSpool(spool, names.subList(1, 9));
        String killed = Files.readString(spool.resolve(".prefetcher.pid")).strip();
        Processes.checked(Processes.run(List.of("kill", "-9", killed), null), "kill -9 the prefetcher");
        await().atMost(Duration.ofSeconds(10)).until(() -> !ProcessHandle.of(Long.parseLong(killed)).map(ProcessHandle::isAlive).orElse(false));

        takeAll(names.subList(1, 12));
        awaitPrefetcherGone(spool); // the replacement ends at the archive's end, as the first would have
    }

    /** The restore_command for each, in order, as a recovery calls it: each succeeds, byte-identical (checked there). */
    private void takeAll(List<String> names) throws Exception {
        for (String name : names) {
            var r = restoreCommand(name);
            assertThat(r.exitCode()).as(name + ": " + r.stderr()).isZero();
        }
    }

    /** Until the spool holds exactly these segments (the prefetcher works after the call that started it returned). */
    private void awaitSpool(Path spool, List<String> expected) throws Exception {
        try {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> filesIn(spool).equals(expected));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("spool " + filesIn(spool) + ", expected " + expected + "; " + prefetcherState(spool) + "; calls: " + calls, e);
        }
    }

    /**
     * What a wait that timed out needs to say: the spool's own files (lock, pid, .wanted, .ended, .failed-), whether the
     * pid there lives and what it runs, and the prefetcher's log.
     */
    private static String prefetcherState(Path spool) {
        StringBuilder s = new StringBuilder();
        try (Stream<Path> files = Files.list(spool)) {
            for (Path f : files.sorted().toList()) {
                String n = f.getFileName().toString();
                s.append(n).append(" (").append(Files.size(f)).append(" B)");
                if (n.startsWith(".") && Files.size(f) < 200 && !n.equals(".prefetcher.log")) s.append(" = '").append(Files.readString(f).strip()).append("'");
                s.append("; ");
            }
        } catch (Exception e) {
            s.append("(spool not listed: ").append(e).append("); ");
        }
        try {
            long pid = Long.parseLong(Files.readString(spool.resolve(".prefetcher.pid")).strip());
            s.append("pid ").append(pid).append(ProcessHandle.of(pid).map(h -> h.isAlive() ? " alive: " + h.info().commandLine().orElse("?") : " ended")
                    .orElse(" gone")).append("; ");
        } catch (Exception e) {
            s.append("no pid: ").append(e).append("; ");
        }
        return s.append("prefetcher log: ").append(prefetcherLog(spool)).toString();
    }

    private static String prefetcherLog(Path spool) {
        try {
            return Files.readString(spool.resolve(".prefetcher.log"));
        } catch (Exception e) {
            return "(none: " + e + ")";
        }
    }

    /**
     * The prefetcher leaves the classes it loaded in an archive of the user's own (~/.cache/pgwarden) that later calls
     * map instead of loading them again; an archive in a directory others may write is neither written nor mapped, and
     * an unusable one only means a slower start.
     */
    @Test
    void thePrefetcherLeavesAClassArchiveLaterCallsMapButNeverOneOthersMayWrite() throws Exception {
        List<String> names = source.writeAndArchive(2);
        Path spool = data.resolve(RestoreCommands.SPOOL);
        Path home = Files.createDirectories(dir.resolve("home"));
        Path cache = home.resolve(".cache/pgwarden");
        var asUser = java.util.Map.of("HOME", home.toString());

        assertThat(restoreCommand(names.get(0), asUser).exitCode()).isZero();
        awaitPrefetcherGone(spool);
        // Written by the launcher after the prefetcher's JVM exited.
        await().atMost(Duration.ofSeconds(30)).until(() -> archivesIn(cache).size() == 1);
        assertThat(Files.getPosixFilePermissions(cache)).isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        Path loaded = dir.resolve("class-load.log");
        var call = walFetch(names.get(1), java.util.Map.of("HOME", home.toString(), "PGWARDEN_JAVA_OPTS", "-Xlog:class+load=info:file=" + loaded));
        assertThat(call.exitCode()).as(call.stderr()).isZero();
        // (top): a class archive on Java 21-24; on 25+ the AOT cache, a file of its own.
        assertThat(Files.readString(loaded)).containsPattern("io\\.pgwarden\\.cli\\.Main source: shared objects file( \\(top\\))?\\n");

        // Unusable (say a disk that filled up): the call works without it.
        Files.write(archivesIn(cache).get(0), new byte[4096]);
        call = walFetch(names.get(1), asUser);
        assertThat(call.exitCode()).as(call.stderr()).isZero();

        // A directory others may write: whatever is there is not mapped, and no prefetcher writes into it.
        Files.delete(archivesIn(cache).get(0));
        Files.setPosixFilePermissions(cache, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        assertThat(restoreCommand(names.get(0), asUser).exitCode()).isZero();
        awaitPrefetcherGone(spool);
        // The launcher would write one after its JVM exited: wait for the launcher itself.
        await().atMost(Duration.ofSeconds(60)).until(() -> ProcessHandle.allProcesses().noneMatch(p -> p.info().commandLine()
                .filter(c -> c.contains("--prefetch") && c.contains(pgwarden.configFile().toString())).isPresent()));
        assertThat(archivesIn(cache)).isEmpty();

        // The launcher's options are not globbed: a file in the working directory named like one changes nothing.
        Path cwd = Files.createDirectories(dir.resolve("cwd"));
        Files.createFile(cwd.resolve("-Xlog:cds-x=off:stderr"));
        var version = Processes.run(List.of(Launcher.executable().toString(), "--version"), cwd);
        assertThat(version.exitCode()).as(version.stderr()).isZero();
    }

    private Processes.Result walFetch(String name, java.util.Map<String, String> env) throws Exception {
        Path out = dir.resolve("fetched");
        Files.deleteIfExists(out);
        Processes.Result r = Processes.run(List.of(Launcher.executable().toString(), "wal-fetch", "--config", pgwarden.configFile().toString(),
                "--cluster", "main", name, out.toString()), null, env);
        if (r.exitCode() == 0) assertThat(Files.readAllBytes(out)).isEqualTo(original(name));
        return r;
    }

    private static List<Path> archivesIn(Path cache) throws Exception {
        if (!Files.isDirectory(cache)) return List.of();
        try (Stream<Path> files = Files.list(cache)) {
            return files.filter(p -> p.getFileName().toString().matches("classes-[0-9]+\\.(jsa|aot)")).toList();
        }
    }

    private static void awaitPrefetcherGone(Path spool) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> !Files.exists(spool.resolve(".prefetcher.pid")));
    }

    /** The standalone restore_command, as PostgreSQL runs it: sh -c in the data directory, %f and %p replaced. */
    private Processes.Result restoreCommand(String file) throws Exception {
        return restoreCommand(file, java.util.Map.of());
    }

    private Processes.Result restoreCommand(String file, java.util.Map<String, String> env) throws Exception {
        System.setProperty("pgwarden.launcher", Launcher.executable().toString());
        String command = RestoreCommands.standalone(pgwarden.configFile(), "main").replace("%f", file).replace("%p", "pg_wal/RECOVERYXLOG");
        long start = System.nanoTime();
        Processes.Result r = Processes.run(List.of("sh", "-c", command), data, env);
        calls.append(file).append(" exit ").append(r.exitCode()).append(" in ").append((System.nanoTime() - start) / 1_000_000).append(" ms")
                .append(r.stderr().isBlank() ? "" : " (" + r.stderr().strip() + ")").append("; ");
        if (r.exitCode() == 0) {
            assertThat(Files.readAllBytes(data.resolve("pg_wal/RECOVERYXLOG"))).as(file).isEqualTo(original(file));
            Files.delete(data.resolve("pg_wal/RECOVERYXLOG")); // PostgreSQL renames it away
        }
        return r;
    }


    private byte[] original(String name) throws Exception {
        return Files.readAllBytes(source.dataDir().resolve("pg_wal").resolve(name));
    }


    private static List<String> filesIn(Path spool) throws Exception {
        if (!Files.isDirectory(spool)) return List.of();
        try (Stream<Path> files = Files.list(spool)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
        }
    }
}
