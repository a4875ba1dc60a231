package io.pgwarden.it.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** A real PostgreSQL 15 cluster from the host's binaries, run as user postgres, on its own port and socket dir. */
public final class PgCluster implements AutoCloseable {
    public static final Path BIN = Path.of(System.getProperty("pgwarden.pgbin", "/usr/lib/postgresql/15/bin"));
    static final Path FAKETIME = Path.of("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");

    private final Path dataDir;
    private final Path socketDir;
    private final int port;
    private boolean running;

    private PgCluster(Path dataDir, Path socketDir, int port) {
        this.dataDir = dataDir;
        this.socketDir = socketDir;
        this.port = port;
    }

    /** initdb a new cluster under parent/name with the given WAL segment size in MB. */
    public static PgCluster init(Path parent, String name, int walSegSizeMb) {
        return init(parent, name, walSegSizeMb, false);
    }

    /** @param dataChecksums initdb --data-checksums */
    public static PgCluster init(Path parent, String name, int walSegSizeMb, boolean dataChecksums) {
        Path data = TestDirs.forPostgres(parent, name);
        Path sockets = TestDirs.forPostgres(parent, name + "-sock");
        List<String> initdb = new java.util.ArrayList<>(List.of(BIN.resolve("initdb").toString(), "-D", data.toString(), "-U", "postgres",
                "--auth=trust", "--no-sync", "--wal-segsize=" + walSegSizeMb));
        if (dataChecksums) initdb.add("--data-checksums");
        Processes.checked(Processes.asPostgres(initdb.toArray(String[]::new)), "initdb");
        return new PgCluster(data, sockets, TestDirs.freePort());
    }

    /** An existing data directory (e.g. a restored base backup). */
    public static PgCluster existing(Path parent, Path dataDir, String name) {
        return new PgCluster(dataDir, TestDirs.forPostgres(parent, name + "-sock"), TestDirs.freePort());
    }

    /** Appends settings to postgresql.auto.conf (the last setting of a name wins). */
    public PgCluster configure(String... lines) {
        try {
            Files.writeString(dataDir.resolve("postgresql.auto.conf"), String.join("\n", lines) + "\n",
                    java.nio.file.StandardOpenOption.APPEND, java.nio.file.StandardOpenOption.CREATE);
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public PgCluster start() {
        return start(List.of());
    }

    /**
     * Starts the server with its clock shifted by what {@code offsetFile} says (libfaketime, e.g. "-3d"), re-read on
     * every clock call so a test can move the server through simulated days. Monotonic time stays real.
     */
    public PgCluster startWithShiftedClock(Path offsetFile) {
        if (!Files.exists(FAKETIME)) throw new IllegalStateException(FAKETIME + " is missing: install Debian's faketime package");
        return start(List.of("env", "LD_PRELOAD=" + FAKETIME, "FAKETIME_TIMESTAMP_FILE=" + offsetFile, "FAKETIME_NO_CACHE=1",
                "FAKETIME_DONT_FAKE_MONOTONIC=1"));
    }

    /**
     * Starts the server through {@code onHost}, which wraps the whole command run as root (e.g. {@code ip netns exec
     * NS ...}: the server then listens on that namespace's loopback; psql and pgBackRest still reach its socket).
     */
    public PgCluster startVia(java.util.function.UnaryOperator<List<String>> onHost) {
        return start(List.of(), onHost);
    }

    private PgCluster start(List<String> prefix) {
        return start(prefix, java.util.function.UnaryOperator.identity());
    }

    private PgCluster start(List<String> prefix, java.util.function.UnaryOperator<List<String>> onHost) {
        List<String> command = new java.util.ArrayList<>();
        if (Processes.isRoot()) command.addAll(List.of("runuser", "-u", "postgres", "--"));
        command.addAll(prefix);
        command.addAll(List.of(BIN.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-l",
                dataDir.resolve("server.log").toString(), "-w", "-t", "120", "-o",
                "-p " + port + " -k " + socketDir + " -c listen_addresses=127.0.0.1", "start"));
        var r = Processes.run(onHost.apply(command), Path.of("/tmp"));
        if (r.exitCode() != 0) {
            String log = serverLog();
            throw new IllegalStateException("pg_ctl start (" + dataDir + ") failed: " + r.stdout() + r.stderr()
                    + "\nserver.log:\n" + log.substring(Math.max(0, log.length() - 3000)));
        }
        running = true;
        return this;
    }

    public void stop() {
        if (!running) return;
        Processes.asPostgres(BIN.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-m", "fast", "-w", "stop");
        running = false;
    }

    public void restart() {
        stop();
        start();
    }

    /** Requires a SCRAM password for user postgres over TCP from now on (the unix socket stays trust). */
    public void requirePassword(String password) throws IOException {
        query("ALTER USER postgres PASSWORD '" + password.replace("'", "''") + "'");
        Files.writeString(dataDir.resolve("pg_hba.conf"), """
                local all all trust
                host  all all 0.0.0.0/0 scram-sha-256
                host  all all ::/0 scram-sha-256
                host  replication all 0.0.0.0/0 scram-sha-256
                host  replication all ::/0 scram-sha-256
                """);
        query("SELECT pg_reload_conf()");
    }

    /** Stops without a shutdown checkpoint (as a crash would): no final WAL switch, nothing more archived. */
    public void stopImmediately() {
        if (!running) return;
        Processes.asPostgres(BIN.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-m", "immediate", "-w", "stop");
        running = false;
    }

    public Connection connect() throws SQLException {
        return connect("postgres");
    }

    public Connection connect(String database) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=postgres");
    }

    public void sql(String... statements) throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement()) {
            for (String sql : statements) s.execute(sql);
        }
    }

    /** psql -Atc, through the unix socket; returns trimmed output. */
    public String query(String sql) {
        return query(sql, "postgres");
    }

    public String query(String sql, String database) {
        return Processes.checked(Processes.asPostgres(BIN.resolve("psql").toString(), "-h", socketDir.toString(), "-p",
                Integer.toString(port), "-U", "postgres", "-d", database, "-Atqc", sql), "psql").stdout().trim();
    }

    public List<String> queryLines(String sql) {
        return queryLines(sql, "postgres");
    }

    public List<String> queryLines(String sql, String database) {
        String out = query(sql, database);
        return out.isEmpty() ? new ArrayList<>() : new ArrayList<>(List.of(out.split("\n")));
    }

    /** Waits until pg_stat_archiver reports the segment (or a later one) archived. */
    public void awaitArchived(String segment, java.time.Duration atMost) {
        org.awaitility.Awaitility.await().atMost(atMost).pollInterval(java.time.Duration.ofMillis(200)).untilAsserted(() ->
                org.assertj.core.api.Assertions.assertThat(query("SELECT coalesce(last_archived_wal, '') >= '" + segment + "' FROM pg_stat_archiver"))
                        .as("%s archived; pg_stat_archiver: %s", segment, query("SELECT * FROM pg_stat_archiver")).isEqualTo("t"));
    }

    /** The oldest WAL segment file still in pg_wal. */
    public String oldestSegmentInPgWal() throws IOException {
        try (var files = Files.list(dataDir.resolve("pg_wal"))) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.matches("[0-9A-F]{24}")).sorted().findFirst().orElseThrow();
        }
    }

    /** n times: rows into table t (x int), a switch to a new segment, a wait until it was archived; their names. */
    public List<String> writeAndArchive(int n) {
        List<String> names = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            query("INSERT INTO t SELECT generate_series(1, 1000)");
            String name = query("SELECT pg_walfile_name(pg_switch_wal())");
            awaitArchived(name, java.time.Duration.ofMinutes(1));
            names.add(name);
        }
        return names;
    }

    /** The segment after {@code segment} on its timeline (within one log id, as a test's few segments are). */
    public static String nextSegment(String segment) {
        return segment.substring(0, 16) + "%08X".formatted(Long.parseLong(segment.substring(16), 16) + 1);
    }

    public Path dataDir() {
        return dataDir;
    }

    public Path socketDir() {
        return socketDir;
    }

    public int port() {
        return port;
    }

    public String serverLog() {
        try {
            return Files.readString(dataDir.resolve("server.log"));
        } catch (IOException e) {
            return "(no server.log: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        stop();
    }
}
