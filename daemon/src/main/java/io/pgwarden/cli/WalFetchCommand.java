package io.pgwarden.cli;

import io.pgwarden.archive.WalFetcher;
import io.pgwarden.config.ConfigLoader;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.repository.RepositoryMarker;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "wal-fetch", description = {
        "Fetch one WAL file straight from the repository (a restore_command that needs no daemon).",
        "Exit 1 when the repository does not have the file (PostgreSQL reads that as the end of the archive)."})
final class WalFetchCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "the YAML configuration file")
    Path config;

    @Option(names = "--cluster", required = true, description = "the cluster name in the configuration")
    String cluster;

    @Parameters(index = "0", paramLabel = "WALFILE", description = "the WAL file name (%%f)")
    String walFile;

    @Parameters(index = "1", paramLabel = "DEST", description = "where to write it (%%p)")
    Path dest;

    @Override
    public Integer call() throws Exception {
        PgwardenConfig cfg = ConfigLoader.load(config);
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.READ)) {
            new WalFetcher(cfg, new WalRepository(storage, cfg.repository())).fetchToFile(cluster, walFile, dest);
        }
        return 0;
    }
}
