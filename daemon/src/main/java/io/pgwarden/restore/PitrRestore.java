package io.pgwarden.restore;

import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.Secret;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.runner.DockerToolRunner;
import io.pgwarden.runner.ProcessToolRunner;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The one restore use case, whoever asks (the CLI, the admin API, a test restore, the quickstart through it): plan
 * from the repository alone, pick the site the cluster's runner calls for, fill it, start a server on it. Entry points
 * parse their input, call these steps and print.
 */
public final class PitrRestore {
    private final PgwardenConfig config;
    private final StorageDriver storage;
    private final WalRepository wal;

    public PitrRestore(PgwardenConfig config, StorageDriver storage, WalRepository wal) {
        this.config = config;
        this.storage = storage;
        this.wal = wal;
    }

    /** Which backup (or incremental chain), which timeline, which WAL; refuses (with the reason) when the target cannot be reached. */
    public RestorePlan plan(String cluster, RestoreTarget target, Optional<String> backup, OptionalInt timeline) {
        return new RestorePlanner(storage, wal).plan(cluster, target, backup, timeline);
    }

    /**
     * An operator's data directory (empty or absent) on this host.
     * @param restoreCommand how the restored server will fetch WAL ({@link RestoreCommands})
     * @param combiner       the cluster's runner, for pg_combinebackup when the plan is an incremental chain
     */
    public DirectorySite directory(String cluster, Path dir, String restoreCommand, Optional<ToolRunner> combiner, String runId) {
        Path data = dir.toAbsolutePath().normalize();
        return new DirectorySite(storage, wal.encoding(), data, data, restoreCommand, binDirs(cluster),
                combiner.map(runner -> new ChainCombiner(runner, runId)));
    }

    /**
     * Where an operator's restored server runs, started by pgwarden: a new Docker volume with the docker runner (the
     * engine need not share a filesystem with pgwarden), else the directory, with WAL through {@code restoreCommand}.
     */
    public RestoreSite forServer(String cluster, ToolRunner runner, String runId, Optional<Path> dir, String restoreCommand) {
        return switch (runner) {
            case DockerToolRunner docker -> new VolumeSite(new VolumeRestorer(storage, wal, docker), docker, volumeName("pgwarden-restore-",
                    cluster, runId), runId, false, connectionPsql(config.cluster(cluster)));
            case ProcessToolRunner process -> directory(cluster, dir.orElseThrow(), restoreCommand, Optional.of(process), runId);
        };
    }

    /** A test restore's scratch site: a directory under restoreTest.scratchDir (WAL through this daemon), or a scratch volume. */
    public RestoreSite scratch(String cluster, String runId, ToolRunner runner) {
        return switch (runner) {
            case DockerToolRunner docker -> new VolumeSite(new VolumeRestorer(storage, wal, docker), docker, volumeName("pgwarden-restore-test-",
                    cluster, runId), runId.toLowerCase(), true, VolumeRestorer.scratchPsql());
            case ProcessToolRunner process -> {
                Path root = config.cluster(cluster).restoreTest().scratchDir().resolve(cluster + "-" + runId);
                Restorer.deleteTree(root, true);
                yield new DirectorySite(storage, wal.encoding(), root, root.resolve("data"),
                        RestoreCommands.viaDaemon(config, cluster, createDirectories(root).resolve("auth-header")), binDirs(cluster),
                        Optional.of(new ChainCombiner(process, runId)));
            }
        };
    }

    private java.util.function.IntFunction<Path> binDirs(String cluster) {
        return config.cluster(cluster).runner()::binDirFor;
    }

    private static String volumeName(String prefix, String cluster, String runId) {
        return prefix + cluster.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + runId.toLowerCase();
    }

    /** On the server's socket in the volume, as the cluster's connection user (postgres without a connection). */
    private static Map<String, Secret> connectionPsql(ClusterConfig cluster) {
        Map<String, Secret> psql = new HashMap<>(VolumeRestorer.scratchPsql());
        cluster.connection().map(c -> c.libpqEnvironment()).ifPresent(env -> {
            psql.put("PGUSER", env.get("PGUSER"));
            if (env.containsKey("PGPASSWORD")) psql.put("PGPASSWORD", env.get("PGPASSWORD"));
        });
        return psql;
    }

    private static Path createDirectories(Path dir) {
        try {
            return java.nio.file.Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new io.pgwarden.error.PgwardenException(io.pgwarden.error.ErrorCode.INTERNAL, "cannot create '" + dir + "': " + e.getMessage(), e);
        }
    }
}
