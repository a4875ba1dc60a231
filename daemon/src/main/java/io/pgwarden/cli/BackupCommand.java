package io.pgwarden.cli;

import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.backup.BaseBackupService;
import io.pgwarden.config.ConfigLoader;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.runner.ToolRunners;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "backup", description = {"Take one backup now (standalone, straight into the repository) and print its id.",
        "The WAL the backup needs must reach the repository through archive_command (a running daemon)."})
final class BackupCommand implements Callable<Integer> {
    /** Sidecars started by this command carry this instance label, apart from any daemon's. */
    static final String INSTANCE = "pgwarden-cli";

    @Option(names = "--config", required = true, description = "the YAML configuration file")
    Path config;

    @Option(names = "--cluster", required = true, description = "the cluster name in the configuration")
    String cluster;

    @Option(names = "--kind", required = true, description = "base (dump is not available yet)")
    String kind;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (!kind.equals("base")) {
            throw new PgwardenException(ErrorCode.USAGE, "--kind " + kind + " is not available in this version (only base)");
        }
        PgwardenConfig cfg = ConfigLoader.load(config);
        try (StorageDriver storage = StorageFactory.create(cfg.repository());
             ToolRunner runner = ToolRunners.create(cfg.cluster(cluster).runner(), INSTANCE)) {
            BaseBackupManifest manifest = new BaseBackupService(cfg, storage, new WalRepository(storage, cfg.repository()),
                    new ClusterInfoStore(storage), Clock.systemUTC()).backup(cluster, runner);
            spec.commandLine().getOut().println(manifest.backupId());
            spec.commandLine().getOut().flush();
        }
        return 0;
    }
}
