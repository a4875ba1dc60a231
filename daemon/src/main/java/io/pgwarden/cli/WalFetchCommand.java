package io.pgwarden.cli;

import io.pgwarden.archive.WalFetcher;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.repository.RepositoryMarker;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "wal-fetch", description = {
        "Fetch one WAL file straight from the repository (a restore_command that needs no daemon).",
        "Exit 1 when the repository does not have the file (PostgreSQL reads that as the end of the archive)."})
final class WalFetchCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "WALFILE", description = "the WAL file name (%%f)")
    String walFile;

    @Parameters(index = "1", paramLabel = "DEST", description = "where to write it (%%p)")
    Path dest;

    @Override
    public Integer call() throws Exception {
        PgwardenConfig cfg = options.load();
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.READ)) {
            new WalFetcher(cfg, new WalRepository(storage, cfg.repository())).fetchToFile(options.cluster, walFile, dest);
        }
        return 0;
    }
}
