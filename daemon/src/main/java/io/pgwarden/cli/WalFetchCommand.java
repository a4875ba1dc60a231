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
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "wal-fetch", description = {
        "Fetch one WAL file straight from the repository (a restore_command that needs no daemon).",
        "Exit 1 when the repository does not have the file (PostgreSQL reads that as the end of the archive).",
        "With --spool, the segments after it are fetched ahead into that directory, verified, for the restore_command",
        "to move into place (pgwarden restore writes such a restore_command)."})
final class WalFetchCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "WALFILE", description = "the WAL file name (%%f)")
    String walFile;

    @Parameters(index = "1", paramLabel = "DEST", description = "where to write it (%%p)")
    Path dest;

    @Option(names = "--spool", description = "a directory for the segments fetched ahead (created 0700; emptied when the archive ends)")
    Path spool;

    @Option(names = "--ahead", defaultValue = "8", description = "with --spool: how many segments after WALFILE (default 8)")
    int ahead;

    @Override
    public Integer call() throws Exception {
        PgwardenConfig cfg = options.load();
        if (ahead < 0 || ahead > 64) throw new io.pgwarden.error.PgwardenException(io.pgwarden.error.ErrorCode.USAGE, "--ahead must be 0..64");
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.READ)) {
            WalFetcher fetcher = new WalFetcher(cfg, new WalRepository(storage, cfg.repository()));
            if (spool == null) {
                fetcher.fetchToFile(options.cluster, walFile, dest);
            } else {
                fetcher.fetchWithSpool(options.cluster, walFile, dest, spool, ahead);
            }
        }
        return 0;
    }
}
