package io.pgwarden.cli;

import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.restore.DumpRestoreService;
import io.pgwarden.restore.RestoreTarget;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.runner.ToolRunners;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.repository.RepositoryMarker;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "restore-dump", description = {"Restore a database's dump into a new database of the cluster, with pg_restore",
        "through the cluster's runner (the dump streams from the repository, verified, into pg_restore's stdin)."})
final class RestoreDumpCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Option(names = "--database", required = true, description = "the database whose dump to restore")
    String database;

    @Option(names = "--dump", description = "this dump (run id); default: the newest")
    String dumpId;

    @Option(names = "--before", description = "the newest dump finished before this time (ISO-8601 with a zone)")
    String before;

    @Option(names = "--target-db", required = true, description = "the database to restore into; created unless it exists")
    String targetDb;

    @Option(names = "--clean", description = "restore over an existing database (pg_restore --clean --if-exists)")
    boolean clean;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (dumpId != null && before != null) throw new PgwardenException(ErrorCode.USAGE, "give --dump or --before, not both");
        if (targetDb.isEmpty()) throw new PgwardenException(ErrorCode.USAGE, "--target-db must not be empty");
        PgwardenConfig cfg = options.load();
        cfg.cluster(options.cluster);
        io.pgwarden.repository.Encoding.of(cfg.repository()).warmUpInBackground(); // long command: worth compiling the cipher
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.READ);
             ToolRunner runner = ToolRunners.create(cfg.cluster(options.cluster).runner(), BackupCommand.INSTANCE)) {
            DumpRestoreService service = new DumpRestoreService(cfg, storage);
            DumpManifest dump = service.choose(options.cluster, database, Optional.ofNullable(dumpId),
                    Optional.ofNullable(before).map(b -> RestoreTarget.parseTime(b, "--before")));
            PrintWriter out = spec.commandLine().getOut();
            out.printf("restoring dump %s of database '%s' (finished %s, %.1f MB) into '%s'%n", dump.dumpId(), database, dump.stopTime(),
                    dump.rawBytes() / 1e6, targetDb);
            out.flush();
            service.restore(options.cluster, runner, dump, targetDb, clean);
            out.println("restored into database '" + targetDb + "'");
            out.flush();
        }
        return 0;
    }
}
