package io.pgwarden.restore;

import io.pgwarden.pg.ServerProbe;
import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.ConnectionConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.Secret;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.BackupObjects;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.repository.VerifiedObject;
import io.pgwarden.io.BlockingPipe;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Restores one database's dump into a new database with pg_restore through the cluster's runner: the dump streams
 * from the repository, verified, into the tool's stdin. An existing database is refused unless {@code clean}
 * (then pg_restore --clean --if-exists replaces the objects the dump contains).
 */
public final class DumpRestoreService {
    private final PgwardenConfig config;
    private final StorageDriver storage;

    public DumpRestoreService(PgwardenConfig config, StorageDriver storage) {
        this.config = config;
        this.storage = storage;
    }

    public DumpManifest choose(String cluster, String database, Optional<String> dumpId, Optional<Instant> before) {
        List<DumpManifest> dumps = new Catalog(storage).dumps(cluster).stream().filter(d -> database.equals(d.database()))
                .sorted(Comparator.comparing(DumpManifest::stopTime)).toList();
        if (dumps.isEmpty()) throw PgwardenException.notFound("cluster '" + cluster + "' has no dump of database '" + database + "'");
        if (dumpId.isPresent()) {
            return dumps.stream().filter(d -> d.dumpId().equals(dumpId.get())).findFirst().orElseThrow(() -> PgwardenException.notFound(
                    "cluster '" + cluster + "' has no dump '" + dumpId.get() + "' of database '" + database + "' (have: "
                            + String.join(", ", dumps.stream().map(DumpManifest::dumpId).toList()) + ")"));
        }
        List<DumpManifest> candidates = new ArrayList<>(dumps);
        before.ifPresent(t -> candidates.removeIf(d -> !d.stopTime().isBefore(t)));
        if (candidates.isEmpty()) {
            throw PgwardenException.notFound("no dump of database '" + database + "' in cluster '" + cluster + "' finished before "
                    + before.orElseThrow() + "; the oldest finished at " + dumps.get(0).stopTime() + " (" + dumps.get(0).dumpId() + ")");
        }
        return candidates.get(candidates.size() - 1);
    }

    public void restore(String cluster, ToolRunner runner, DumpManifest dump, String targetDb, boolean clean) {
        ClusterConfig clusterConfig = config.cluster(cluster);
        ConnectionConfig connection = clusterConfig.connection().orElseThrow(() -> new PgwardenException(ErrorCode.CONFIG,
                "cluster '" + cluster + "' has no connection: restoring a dump needs clusters." + cluster + ".connection"));
        int major = ServerProbe.probe(cluster, connection).major();
        prepareDatabase(cluster, connection, targetDb, clean);
        List<String> args = new ArrayList<>(List.of("--exit-on-error", "-d", "dbname=" + conninfoQuote(targetDb)));
        if (clean) args.addAll(List.of("--clean", "--if-exists"));
        Map<String, Secret> env = clusterConfig.runner().toolEnvironment(connection);
        ToolInvocation invocation = new ToolInvocation("pg_restore", args, major, env, Duration.ofHours(24), "restore-dump",
                dump.dumpId() + "-restore");
        ToolResult result = withDumpOnStdin(runner, invocation, dump, stdout -> stdout.transferTo(OutputStream.nullOutputStream()));
        if (!result.succeeded()) {
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': restoring dump " + dump.dumpId() + " of database '"
                    + dump.database() + "' into '" + targetDb + "' failed: " + result.failureSummary("pg_restore"));
        }
    }

    /** The tables whose data the dump holds, from its table of contents (pg_restore --list): "schema.table". */
    public List<String> tablesWithData(String cluster, ToolRunner runner, DumpManifest dump) {
        int major = dump.pgVersionNum() / 10000;
        ToolInvocation invocation = new ToolInvocation("pg_restore", List.of("--list"), major, Map.of(), Duration.ofHours(1), "restore-dump",
                dump.dumpId() + "-toc");
        ByteArrayOutputStream toc = new ByteArrayOutputStream();
        ToolResult result = withDumpOnStdin(runner, invocation, dump, stdout -> stdout.transferTo(toc));
        if (!result.succeeded()) {
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': cannot list dump " + dump.dumpId() + ": "
                    + result.failureSummary("pg_restore --list"));
        }
        List<String> tables = new ArrayList<>();
        for (String line : toc.toString(java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
            int at = line.indexOf(" TABLE DATA ");
            if (line.startsWith(";") || at < 0) continue;
            String[] f = line.substring(at + " TABLE DATA ".length()).split(" ");
            if (f.length >= 2) tables.add(f[0] + "." + f[1]);
        }
        return tables;
    }

    /** Runs a tool with the dump, verified and decompressed, on its stdin. */
    private ToolResult withDumpOnStdin(ToolRunner runner, ToolInvocation invocation, DumpManifest dump, io.pgwarden.runner.StdoutConsumer stdout) {
        BlockingPipe pipe = new BlockingPipe();
        VerifiedObject object = BackupObjects.openDump(storage, io.pgwarden.repository.Encoding.of(config.repository()), dump);
        // The verified stream feeds the tool; a checksum mismatch ends it with an error before the last bytes.
        Thread feeder = Thread.ofVirtual().name("restore-dump-" + dump.dumpId()).start(() -> {
            try (object; OutputStream out = pipe.writer(1 << 20)) {
                object.writeTo(out);
                out.flush();
                pipe.finish(null);
            } catch (IOException | RuntimeException e) {
                pipe.finish(e);
            }
        });
        ToolResult result = runner.run(invocation, pipe, stdout);
        try {
            feeder.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return result;
    }

    /** Drops a scratch database (FORCE: a test must not be blocked by a stray session). */
    public void drop(String cluster, String database) {
        ConnectionConfig connection = config.cluster(cluster).connection().orElseThrow();
        try (Connection c = ServerProbe.connect(connection); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS \"" + database.replace("\"", "\"\"") + "\" WITH (FORCE)");
        } catch (SQLException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': cannot drop scratch database '" + database + "': "
                    + e.getMessage(), e);
        }
    }

    /** Exact row counts of the given tables in a database. */
    public Map<String, Long> rowCounts(String cluster, String database, List<String> tables) {
        ConnectionConfig connection = config.cluster(cluster).connection().orElseThrow();
        ConnectionConfig inDb = new ConnectionConfig(connection.host(), connection.port(), connection.user(), connection.password(),
                database, connection.sslmode());
        Map<String, Long> counts = new java.util.LinkedHashMap<>();
        try (Connection c = ServerProbe.connect(inDb); Statement s = c.createStatement()) {
            for (String table : tables) {
                String[] parts = table.split("\\.", 2);
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM \"" + parts[0].replace("\"", "\"\"") + "\".\""
                        + parts[1].replace("\"", "\"\"") + "\"")) {
                    rs.next();
                    counts.put(table, rs.getLong(1));
                }
            }
        } catch (SQLException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': cannot count rows in scratch database '" + database
                    + "': " + e.getMessage(), e);
        }
        return counts;
    }

    private static void prepareDatabase(String cluster, ConnectionConfig connection, String targetDb, boolean clean) {
        try (Connection c = ServerProbe.connect(connection)) {
            boolean exists;
            try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
                s.setString(1, targetDb);
                try (ResultSet rs = s.executeQuery()) {
                    exists = rs.next();
                }
            }
            if (exists && !clean) {
                throw new PgwardenException(ErrorCode.USAGE, "database '" + targetDb + "' already exists in cluster '" + cluster
                        + "'; choose another --target-db, or --clean to restore over it (pg_restore --clean --if-exists)");
            }
            if (!exists) {
                try (Statement s = c.createStatement()) {
                    s.execute("CREATE DATABASE \"" + targetDb.replace("\"", "\"\"") + "\"");
                }
            }
        } catch (SQLException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': cannot prepare database '" + targetDb + "' at "
                    + connection.describe() + ": " + e.getMessage(), e);
        }
    }

    /** A libpq connection-string value: single-quoted, with backslashes and quotes escaped. */
    static String conninfoQuote(String value) {
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }
}
