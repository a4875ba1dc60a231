package io.pgwarden.cli;

import io.pgwarden.jobs.JobEngine;
import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.jobs.JobRun;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.runner.ToolRunners;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.repository.RepositoryMarker;
import io.pgwarden.storage.StagingDir;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "backup", description = {"Take one backup now and print its id.",
        "Goes through the running daemon's admin API when it is up (server.adminToken set), so it never overlaps a",
        "scheduled run; otherwise runs standalone. A base backup's WAL must reach the repository through archive_command."})
final class BackupCommand implements Callable<Integer> {
    /** Sidecars started by this command carry this instance label, apart from any daemon's. */
    static final String INSTANCE = "pgwarden-cli";

    @Mixin
    ClusterOptions options;

    @Option(names = "--kind", required = true, description = "base, incremental (PostgreSQL 17+: what changed since the newest backup) or dump")
    String kind;

    @Option(names = "--database", description = "with --kind dump: dump only this database (and the globals)")
    String database;

    @Option(names = "--standalone", description = "do not use a running daemon even when one is up")
    boolean standalone;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PgwardenConfig cfg = options.load();
        JobKind k;
        try {
            k = JobKind.parseBackup(kind);
        } catch (PgwardenException e) {
            throw new PgwardenException(ErrorCode.USAGE, "--kind: " + e.getMessage());
        }
        if (database != null && k != JobKind.DUMP) throw new PgwardenException(ErrorCode.USAGE, "--database applies to --kind dump only");
        cfg.cluster(options.cluster);
        Optional<DaemonClient> daemon = standalone ? Optional.empty() : DaemonClient.ifRunning(cfg, spec.commandLine().getErr());
        JobRun result = daemon.isPresent()
                ? daemon.get().backup(options.cluster, k, Optional.ofNullable(database))
                : runStandalone(cfg, new JobRequest(options.cluster, k, Optional.ofNullable(database), "cli"));
        spec.commandLine().getOut().println(result.id());
        spec.commandLine().getOut().flush();
        if (!result.succeeded()) {
            throw new PgwardenException(ErrorCode.valueOf(result.errorCode()), result.kind().noun() + " " + result.id() + " failed: " + result.error())
                    .withContext(new io.pgwarden.error.ErrorContext(result.cluster(), result.errorObject(), result.id()));
        }
        return 0;
    }

    private static JobRun runStandalone(PgwardenConfig cfg, JobRequest request) {
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.WRITE,
                     StagingDir.temporaryIn(cfg.server().spoolDir()));
             ToolRunner runner = ToolRunners.create(cfg.cluster(request.cluster()).runner(), INSTANCE);
             Metrics metrics = new Metrics(Clock.systemUTC())) {
            WalRepository wal = new WalRepository(storage, cfg.repository());
            wal.encoding().warmUpInBackground(); // long command: worth compiling the cipher
            Clock clock = Clock.systemUTC();
            JobEngine jobs = JobEngine.create(cfg, storage, wal, new ClusterInfoStore(storage), c -> runner, metrics, clock);
            return jobs.run(request);
        }
    }
}
