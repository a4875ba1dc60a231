package io.pgwarden.quickstart;

import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.jobs.JobRun;
import io.pgwarden.config.ConfigLoader;
import io.pgwarden.daemon.Daemon;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.RestoreTestRecord;
import io.pgwarden.restore.LocalServer;
import io.pgwarden.restore.RestoredServer;
import io.pgwarden.restore.RestoreTarget;
import io.pgwarden.restore.Restorer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * pgwarden end to end on one machine, with PostgreSQL's server binaries or Docker: a scratch cluster whose
 * archive_command pushes to a daemon with a filesystem repository, a base backup and a dump, rows written in three
 * batches, and a test restore to the moment between the second and the third, whose check proves that recovery
 * stopped exactly there. Everything lives in one directory, removed by {@link #close()} unless kept.
 */
public final class Quickstart implements AutoCloseable {
    public static final String CLUSTER = "quickstart";
    static final int BATCH_ROWS = 1000;
    private static final int STEPS = 8;
    /** Letters, digits and . _ - /: a directory that needs no quoting in YAML, postgresql.conf or a shell command. */
    private static final String SAFE_PATH = "[A-Za-z0-9._/-]+";

    /**
     * @param dir    where everything goes (absent or empty); default a new directory under java.io.tmpdir
     * @param docker run PostgreSQL in containers from {@code image} (default postgres:15) even where binaries exist
     */
    public record Options(Optional<Path> dir, boolean keep, Optional<Path> pgBin, boolean docker, Optional<String> image) {
    }

    static final String DEFAULT_IMAGE = "postgres:15";

    /** What the summary shows. @param psqlCommand how an operator reaches the scratch cluster */
    public record Result(Path dir, String pgVersion, String psqlCommand, int daemonPort, Path configFile, Catalog.Listing listing,
                         Instant target, RestoreTestRecord restoreTest, Duration elapsed) {
    }

    private final Options options;
    private final PrintWriter out;
    private Path dir;
    private Path pgHome;
    private Path createdDir;
    private boolean removeRoot;
    private Path extraDir;
    private RestoredServer server;
    private Daemon daemon;
    private int step;

    public Quickstart(Options options, PrintWriter out) {
        this.options = options;
        this.out = out;
    }

    /** @param stopRequested checked between steps: a Ctrl-C during the set-up stops it there (close() cleans up) */
    public Result run(BooleanSupplier stopRequested) throws Exception {
        long t0 = System.nanoTime();
        Optional<PgBinaries> local = localBinaries();
        String image = options.image().orElse(DEFAULT_IMAGE);
        if (local.isPresent()) requireCurl();
        else if (!image.matches("[A-Za-z0-9._/:@-]+")) throw new PgwardenException(ErrorCode.USAGE, "--image '" + image + "' is not an image reference");
        prepareDirectory();
        out.printf("pgwarden quickstart: PostgreSQL %s; everything lives in %s%s%n",
                local.map(pg -> pg.version() + " from " + pg.binDir()).orElse("in containers from image " + image), dir,
                options.keep() ? " (kept on exit)" : " and is removed on exit");
        int pgPort = freePort();
        int daemonPort = freePort();
        Path configFile = dir.resolve("pgwarden.yml");
        Started started = local.isPresent() ? startLocal(local.get(), stopRequested, configFile, pgPort, daemonPort)
                : startInDocker(image, stopRequested, configFile, pgPort, daemonPort);
        step("write batch 1 (" + BATCH_ROWS + " rows into quickstart_orders)", stopRequested, () -> {
            sql("CREATE TABLE quickstart_orders (id bigserial PRIMARY KEY, batch int NOT NULL, amount numeric(10,2) NOT NULL,"
                    + " placed_at timestamptz NOT NULL DEFAULT clock_timestamp())");
            insertBatch(1);
            return "committed";
        });
        step("base backup (pg_basebackup, streamed to the repository)", stopRequested, () -> job(JobKind.BASE).id());
        step("dump (pg_dump of each database, pg_dumpall --globals-only)", stopRequested, () -> job(JobKind.DUMP).id());
        Instant[] target = new Instant[1];
        step("write batches 2 and 3, archive the current WAL file", stopRequested, () -> {
            insertBatch(2);
            // The restore target: after batch 2's commit, before batch 3's (PostgreSQL's clock decides both).
            target[0] = Instant.parse(sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
            sleep(Duration.ofMillis(50));
            insertBatch(3);
            String segment = sql("SELECT pg_walfile_name(pg_switch_wal())");
            awaitArchived(segment);
            return "target " + target[0] + ", WAL up to " + segment + " archived";
        });
        RestoreTestRecord[] record = new RestoreTestRecord[1];
        step("test restore to the target (point in time), checked", stopRequested, () -> {
            JobRun run = daemon.jobs().run(new JobRequest(CLUSTER, JobKind.RESTORE_TEST, Optional.empty(),
                    "quickstart", new RestoreTarget.Time(target[0])));
            record[0] = daemon.catalog().restoreTest(CLUSTER, run.id()).orElse(null);
            if (!run.succeeded()) throw new PgwardenException(ErrorCode.TOOL, "the test restore failed: " + run.error());
            return "recovered to " + record[0].recoveredTo();
        });
        Catalog.Listing listing = daemon.catalog().list(CLUSTER);
        return new Result(dir, started.version(), started.psqlCommand(), daemonPort, configFile, listing, target[0], record[0],
                Duration.ofNanos(System.nanoTime() - t0));
    }

    /** What the first three steps leave: the server's version and how to reach it. */
    private record Started(String version, String psqlCommand) {
    }

    /** initdb with the host's binaries, the daemon, then PostgreSQL with pg_ctl (as user postgres when root). */
    private Started startLocal(PgBinaries pg, BooleanSupplier stopRequested, Path configFile, int pgPort, int daemonPort) throws Exception {
        Path socketDir = LocalServer.socketDirectory(pgHome.resolve("run"), pgPort);
        if (!socketDir.startsWith(dir)) extraDir = socketDir;
        Path dataDir = pgHome.resolve("data");
        step("initdb a scratch cluster", stopRequested, () -> {
            LocalServer.handOverToPostgres(pgHome);
            LocalServer.initdb(pg.binDir(), dataDir, pgHome.resolve("password"));
            return dataDir.toString();
        });
        startDaemon(stopRequested, configFile, QuickstartConfig.yaml(dir, pgHome, "{type: process, binDir: " + pg.binDir() + "}", pgPort,
                daemonPort), daemonPort);
        step("start PostgreSQL with archive_command pushing WAL to pgwarden", stopRequested, () -> {
            write(pgHome.resolve("auth-header"), authHeader() + "\n");
            append(dataDir.resolve("postgresql.auto.conf"),
                    QuickstartConfig.postgresqlSettings(QuickstartConfig.archiveCommand(pgHome.resolve("auth-header"), daemonPort)));
            Files.createDirectories(socketDir);
            LocalServer.handOverToPostgres(pgHome, socketDir);
            LocalServer localServer = new LocalServer(pg.binDir(), dataDir, pgHome.resolve("server.log"), socketDir, pgPort, "127.0.0.1", true);
            server = localServer;
            localServer.start(Duration.ofMinutes(2));
            return "127.0.0.1:" + pgPort;
        });
        return new Started(pg.version(), "psql -h " + socketDir + " -p " + pgPort + " -U postgres");
    }

    /** The image checked and a volume created, the daemon (docker runner on the host network), then the server's container. */
    private Started startInDocker(String image, BooleanSupplier stopRequested, Path configFile, int pgPort, int daemonPort) throws Exception {
        ContainerCluster cluster = new ContainerCluster(image, "pgwarden-quickstart-server", pgPort, read(pgHome.resolve("password")));
        server = cluster;
        String[] version = new String[1];
        step("check image " + image + " and create a data volume", stopRequested, () -> {
            version[0] = cluster.prepare();
            return "PostgreSQL " + version[0];
        });
        startDaemon(stopRequested, configFile, QuickstartConfig.yaml(dir, pgHome, "{type: docker, image: \"" + image
                + "\", network: host, pull: if-absent}", pgPort, daemonPort), daemonPort);
        step("start PostgreSQL in a container (initdb) with archive_command pushing WAL to pgwarden", stopRequested, () -> {
            cluster.start(authHeader(), QuickstartConfig.archiveCommand(Path.of(ContainerCluster.MOUNT, "auth-header"), daemonPort), daemonPort,
                    Duration.ofMinutes(2));
            return "127.0.0.1:" + pgPort;
        });
        return new Started(version[0], cluster.psqlCommand());
    }

    private String authHeader() throws IOException {
        return "Authorization: Bearer " + read(dir.resolve("wal.token"));
    }

    private void startDaemon(BooleanSupplier stopRequested, Path configFile, String yaml, int port) throws Exception {
        step("start the pgwarden daemon (filesystem repository)", stopRequested, () -> {
            write(configFile, yaml);
            daemon = Daemon.start(ConfigLoader.load(configFile), Clock.systemUTC());
            return "http://127.0.0.1:" + port;
        });
    }

    /**
     * The host's server binaries, unless Docker was asked for; without binaries, Docker when it is there.
     * @return empty: run PostgreSQL in containers
     */
    private Optional<PgBinaries> localBinaries() {
        if (options.docker() || options.image().isPresent()) return Optional.empty();
        try {
            return Optional.of(PgBinaries.locate(options.pgBin()));
        } catch (PgwardenException e) {
            if (options.pgBin().isEmpty() && (Files.exists(Path.of("/var/run/docker.sock")) || System.getenv("DOCKER_HOST") != null)) {
                out.println("pgwarden quickstart: " + e.getMessage() + "; using Docker instead");
                return Optional.empty();
            }
            throw options.pgBin().isPresent() ? e
                    : new PgwardenException(ErrorCode.USAGE, e.getMessage() + "; or, with Docker, --docker [--image IMAGE]");
        }
    }

    /** Stops PostgreSQL, then the daemon, then removes the directory (unless kept). Safe after a failed run. */
    @Override
    public void close() {
        if (server != null) server.close();
        if (daemon != null) daemon.close();
        server = null;
        daemon = null;
        if (extraDir != null) Restorer.deleteTree(extraDir, true);
        if (createdDir != null && !options.keep()) {
            Restorer.deleteTree(createdDir, removeRoot);
            createdDir = null;
        }
    }

    private interface Step {
        String run() throws Exception;
    }

    private void step(String what, BooleanSupplier stopRequested, Step action) throws Exception {
        if (stopRequested.getAsBoolean()) throw new PgwardenException(ErrorCode.USAGE, "stopped by a signal before: " + what);
        step++;
        out.printf("[%d/%d] %s ... ", step, STEPS, what);
        out.flush();
        long t0 = System.nanoTime();
        String detail;
        try {
            detail = action.run();
        } catch (Exception e) {
            out.println("FAILED");
            out.flush();
            throw e;
        }
        out.printf("ok (%.1f s): %s%n", (System.nanoTime() - t0) / 1e9, detail);
        out.flush();
    }

    private JobRun job(JobKind kind) {
        JobRun run = daemon.jobs().run(new JobRequest(CLUSTER, kind, Optional.empty(), "quickstart"));
        if (!run.succeeded()) {
            throw new PgwardenException(ErrorCode.TOOL, "the " + kind.label() + " backup failed: " + run.error() + " (PostgreSQL's log: "
                    + server.logTail() + ")");
        }
        return run;
    }

    private void insertBatch(int batch) {
        sql("INSERT INTO quickstart_orders (batch, amount) SELECT " + batch + ", round((random() * 500)::numeric, 2) FROM generate_series(1, "
                + BATCH_ROWS + ")");
    }

    private String sql(String statement) {
        return server.query("postgres", statement);
    }

    /** Until pg_stat_archiver reports the segment (or a later one) archived: the restore needs the WAL past the target. */
    private void awaitArchived(String segment) {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            if (sql("SELECT coalesce(last_archived_wal, '') >= '" + segment + "' FROM pg_stat_archiver").equals("t")) return;
            sleep(Duration.ofMillis(200));
        }
        throw new PgwardenException(ErrorCode.TOOL, "WAL file " + segment + " was not archived within 2 minutes: pg_stat_archiver says "
                + sql("SELECT format('last archived %s, last failed %s (%s failures)', last_archived_wal, last_failed_wal, failed_count)"
                + " FROM pg_stat_archiver") + "; PostgreSQL's log: " + server.logTail());
    }

    private void prepareDirectory() throws IOException {
        Path given = options.dir().map(p -> p.toAbsolutePath().normalize()).orElse(null);
        if (given != null && !given.toString().matches(SAFE_PATH)) {
            throw new PgwardenException(ErrorCode.USAGE, "--dir '" + given + "': use a path of letters, digits, '.', '_', '-' and '/' only");
        }
        if (given == null) {
            dir = Files.createTempDirectory("pgwarden-quickstart-");
            removeRoot = true;
        } else if (Files.exists(given)) {
            try (var entries = Files.list(given)) {
                if (entries.findAny().isPresent()) {
                    throw new PgwardenException(ErrorCode.USAGE, "'" + given + "' is not empty; the quickstart needs an empty or new directory");
                }
            }
            dir = given;
            removeRoot = false; // the operator's directory: emptied on exit, not removed
        } else {
            dir = Files.createDirectories(given);
            removeRoot = true;
        }
        pgHome = dir.resolve("pg");
        createdDir = dir;
        // Traversable, not listable: PostgreSQL (user postgres when pgwarden is root) needs to reach pg/ below it.
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        Files.createDirectories(pgHome, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        write(pgHome.resolve("password"), secret());
        write(dir.resolve("wal.token"), secret());
        write(dir.resolve("admin.token"), secret());
    }

    private static String secret() {
        byte[] bytes = new byte[24];
        new SecureRandom().nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    private static void write(Path file, String text) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, text);
    }

    private static void append(Path file, String text) throws IOException {
        Files.writeString(file, text, java.nio.file.StandardOpenOption.APPEND);
    }

    private static String read(Path file) throws IOException {
        return Files.readString(file).strip();
    }

    private static void requireCurl() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, "curl"))) return;
        }
        throw new PgwardenException(ErrorCode.USAGE, "curl is not on the PATH; archive_command uses it to push WAL (Debian: apt-get install curl)");
    }

    private static int freePort() throws IOException {
        try (var socket = new java.net.ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PgwardenException(ErrorCode.TOOL, "interrupted", e);
        }
    }
}
