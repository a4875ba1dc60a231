package io.pgwarden.backup;

import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.ConnectionConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.config.Secret;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.ServerProbe;
import io.pgwarden.pg.ServerInfo;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.repository.FailureRecord;
import io.pgwarden.repository.FailureRecords;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.RunIds;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A dump run: pg_dumpall --globals-only once, then pg_dump -Fc of each database, each streamed into the repository
 * with its manifest written last. One database failing does not stop the others; each failure leaves a record
 * and no data object.
 */
public final class DumpService {
    private static final Logger log = LoggerFactory.getLogger(DumpService.class);

    private final PgwardenConfig config;
    private final StorageDriver storage;
    private final Clock clock;
    private final io.pgwarden.repository.WalRepository wal;

    public DumpService(PgwardenConfig config, StorageDriver storage, io.pgwarden.repository.WalRepository wal, Clock clock) {
        this.config = config;
        this.storage = storage;
        this.wal = wal;
        this.clock = clock;
    }

    /** What one run produced; it succeeded when nothing failed. */
    public record DumpRun(String dumpId, List<DumpManifest> dumps, List<FailureRecord> failures) {
        public boolean succeeded() {
            return failures.isEmpty();
        }

        /** The first failure's message, for callers that report one line. */
        public String summary() {
            return succeeded() ? dumps.size() + " dumps" : failures.size() + " of " + (dumps.size() + failures.size())
                    + " dumps failed; first: " + failures.get(0).error();
        }
    }

    /**
     * @param onlyDatabase dump just this database (plus the globals) instead of the configured set
     * @param id           the run's id, from {@link RunIds} (the caller may have announced it already)
     */
    public DumpRun dump(String cluster, ToolRunner runner, Optional<String> onlyDatabase, String id) {
        ClusterConfig clusterConfig = config.cluster(cluster);
        ConnectionConfig connection = clusterConfig.connection().orElseThrow(() -> new PgwardenException(ErrorCode.CONFIG,
                "cluster '" + cluster + "' has no connection: dumps need clusters." + cluster + ".connection"));
        // Why first: the server's version picks the tools, and the database list decides what this run covers.
        ServerInfo server = ServerProbe.probe(cluster, connection);
        List<String> databases = databases(cluster, clusterConfig, connection, onlyDatabase);
        String toolVersion = ToolVersions.checked(runner, "pg_dump", server, "dump", id);
        List<DumpManifest> dumps = new ArrayList<>();
        List<FailureRecord> failures = new ArrayList<>();
        // Globals first: roles must exist before a restored database's GRANTs refer to them.
        attempt(cluster, id, null, failures, () -> dumps.add(globals(clusterConfig, runner, server, connection, id)));
        for (String database : databases) {
            attempt(cluster, id, database, failures,
                    () -> dumps.add(database(clusterConfig, runner, server, connection, id, database, toolVersion)));
        }
        return new DumpRun(id, List.copyOf(dumps), List.copyOf(failures));
    }

    private static List<String> databases(String cluster, ClusterConfig clusterConfig, ConnectionConfig connection, Optional<String> only) {
        List<String> present = ServerProbe.databases(cluster, connection);
        List<String> wanted = only.map(List::of).orElse(clusterConfig.dump().databases());
        if (wanted.isEmpty()) return present;
        for (String db : wanted) {
            if (!present.contains(db)) {
                throw PgwardenException.notFound("cluster '" + cluster + "': database '" + db + "' does not exist or does not accept connections"
                        + " (present: " + String.join(", ", present) + ")");
            }
        }
        return wanted;
    }

    private void attempt(String cluster, String id, String database, List<FailureRecord> failures, Runnable dump) {
        Instant started = clock.instant();
        try {
            dump.run();
        } catch (RuntimeException e) {
            FailureRecord failure = new FailureRecord("dump", id, cluster, database, started, clock.instant(),
                    ErrorCode.of(e).reason(), e.getMessage());
            failures.add(failure);
            record(cluster, id, database, failure);
        }
    }

    private DumpManifest globals(ClusterConfig clusterConfig, ToolRunner runner, ServerInfo server, ConnectionConfig connection, String id) {
        String cluster = clusterConfig.name();
        RepositoryConfig repo = config.repository();
        String key = RepositoryLayout.globalsData(cluster, id, repo.compression());
        ToolInvocation invocation = new ToolInvocation("pg_dumpall", List.of("--globals-only", "-l", connection.database()),
                server.major(), clusterConfig.runner().toolEnvironment(connection), clusterConfig.dump().timeout(), "dump", id + "-globals");
        String version = ToolVersions.checked(runner, "pg_dumpall", server, "dump", id);
        return store(runner, cluster, id, null, "sql", 0, invocation, key, RepositoryLayout.globalsManifest(cluster, id), server, version,
                "cluster '" + cluster + "': globals dump " + id);
    }

    private DumpManifest database(ClusterConfig clusterConfig, ToolRunner runner, ServerInfo server, ConnectionConfig connection, String id,
                                  String database, String toolVersion) {
        String cluster = clusterConfig.name();
        RepositoryConfig repo = config.repository();
        // Compress once: pg_dump's own zlib is slower and weaker than the repository's zstd.
        int pgDumpLevel = repo.compression() == io.pgwarden.repository.codec.Compression.NONE ? 6 : 0;
        Map<String, Secret> env = new java.util.LinkedHashMap<>(clusterConfig.runner().toolEnvironment(connection));
        // Through the environment, not -d: a name containing '=' would be read as a connection string there.
        env.put("PGDATABASE", new Secret(database));
        ToolInvocation invocation = new ToolInvocation("pg_dump", List.of("-Fc", "-Z", Integer.toString(pgDumpLevel)), server.major(),
                env, clusterConfig.dump().timeout(), "dump", id + "-" + RepositoryLayout.escape(database));
        return store(runner, cluster, id, database, "custom", pgDumpLevel, invocation, RepositoryLayout.dumpData(cluster, database, id, repo.compression()),
                RepositoryLayout.dumpManifest(cluster, database, id), server, toolVersion,
                "cluster '" + cluster + "': dump " + id + " of database '" + database + "'");
    }

    private DumpManifest store(ToolRunner runner, String cluster, String id, String database, String format, int pgDumpLevel, ToolInvocation invocation,
                               String dataKey, String manifestKey, ServerInfo server, String toolVersion, String what) {
        Instant started = clock.instant();
        try {
            ToolOutputUpload.Uploaded uploaded = new ToolOutputUpload(storage, wal)
                    .run(runner, invocation, dataKey, UnaryOperator.identity(), what);
            DumpManifest manifest = new DumpManifest(1, id, cluster, database, format, pgDumpLevel, started, clock.instant(),
                    server.versionNum(), toolVersion, dataKey, config.repository().compression().name().toLowerCase(),
                    uploaded.rawBytes(), uploaded.storedBytes(), null, uploaded.encryption(), uploaded.storedSha256());
            RepositoryJson.write(storage, manifestKey, manifest);
            log.info("{} committed: {} bytes raw, {} stored", what, manifest.rawBytes(), manifest.storedBytes());
            return manifest;
        } catch (RuntimeException e) {
            deleteQuietly(dataKey);
            throw e;
        }
    }

    private void record(String cluster, String id, String database, FailureRecord failure) {
        String what = database == null ? "globals" : "database '" + database + "'";
        log.error("cluster '{}': dump {} of {} failed: {}", cluster, id, what, failure.error());
        String suffix = database == null ? "globals" : RepositoryLayout.escape(database);
        FailureRecords.write(storage, RepositoryLayout.failureRecord(cluster, "dump", id + "-" + suffix), failure,
                "cluster '" + cluster + "': dump " + id + " of " + what);
    }

    private void deleteQuietly(String key) {
        try {
            storage.delete(key);
        } catch (RuntimeException e) {
            log.warn("could not delete '{}' after a failed dump (garbage collection will): {}", key, e.getMessage());
        }
    }
}
