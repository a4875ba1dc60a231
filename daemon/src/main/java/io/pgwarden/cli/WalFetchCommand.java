package io.pgwarden.cli;

import io.pgwarden.archive.WalFetcher;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.repository.RepositoryMarker;
import io.pgwarden.archive.SpoolPrefetcher;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.WalFileName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "wal-fetch", description = {
        "Fetch one WAL file straight from the repository (a restore_command that needs no daemon).",
        "Exit 1 when the repository does not have the file (PostgreSQL reads that as the end of the archive).",
        "With --spool, a background process (one per spool directory) keeps the next segments fetched into that",
        "directory, verified, for the restore_command to move into place (pgwarden restore writes such a restore_command)."})
final class WalFetchCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "WALFILE", description = "the WAL file name (%%f)")
    String walFile;

    @Parameters(index = "1", paramLabel = "DEST", arity = "0..1", description = "where to write it (%%p)")
    Path dest;

    @Option(names = "--spool", description = "a directory for the segments fetched ahead (created 0700; emptied when the archive ends)")
    Path spool;

    @Option(names = "--ahead", defaultValue = "8", description = "with --spool: how many segments to keep fetched ahead (default 8)")
    int ahead;

    @Option(names = "--prefetch", hidden = true, description = "run as the spool's background prefetcher, after WALFILE (of --segment-size bytes)")
    boolean prefetch;

    @Option(names = "--segment-size", hidden = true, defaultValue = "0")
    long segmentSize;

    @Override
    public Integer call() throws Exception {
        PgwardenConfig cfg = options.load();
        if (ahead < 0 || ahead > 64) throw new PgwardenException(ErrorCode.USAGE, "--ahead must be 0..64");
        if (prefetch && (spool == null || segmentSize <= 0)) throw new PgwardenException(ErrorCode.USAGE, "--prefetch needs --spool and --segment-size");
        if (!prefetch && dest == null) throw new PgwardenException(ErrorCode.USAGE, "give DEST, where to write the WAL file (%p)");
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.READ)) {
            WalFetcher fetcher = new WalFetcher(cfg, new WalRepository(storage, cfg.repository()));
            if (prefetch) {
                new SpoolPrefetcher(fetcher, options.cluster, spool, ahead, segmentSize).run(WalFileName.parse(walFile));
            } else if (spool == null) {
                fetcher.fetchToFile(options.cluster, walFile, dest);
            } else {
                fetcher.fetchWithSpool(options.cluster, walFile, dest, spool);
                WalFileName name = WalFileName.parse(walFile);
                if (name.kind() == WalFileName.Kind.SEGMENT && ahead > 0) startPrefetcher(name, Files.size(dest));
            }
        }
        return 0;
    }

    /**
     * A process of its own, left running when this one exits (PostgreSQL waits for this call only): the recovery
     * replays this segment while the next ones download. Its output goes to a log in the spool (0700).
     */
    private void startPrefetcher(WalFileName after, long size) throws IOException {
        Files.createDirectories(spool);
        Files.setPosixFilePermissions(spool, PosixFilePermissions.fromString("rwx------"));
        Files.writeString(spool.resolve(SpoolPrefetcher.WANTED), after.name());
        if (SpoolPrefetcher.running(spool)) return;
        String launcher = System.getProperty("pgwarden.launcher", "pgwarden");
        List<String> command = List.of(launcher, "wal-fetch", "--config", options.config.toAbsolutePath().toString(), "--cluster", options.cluster,
                "--spool", spool.toAbsolutePath().toString(), "--ahead", Integer.toString(ahead), "--prefetch", "--segment-size",
                Long.toString(size), after.name());
        Path log = spool.resolve(SpoolPrefetcher.LOG);
        ProcessBuilder prefetcher = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).redirectErrorStream(true);
        // The launcher gives short commands C1 only; this one hashes and decrypts for the whole recovery: full JIT
        // (before the operator's own options, which still win).
        String opts = System.getenv().getOrDefault("PGWARDEN_JAVA_OPTS", "");
        prefetcher.environment().put("PGWARDEN_JAVA_OPTS", ("-XX:TieredStopAtLevel=4 " + opts).strip());
        prefetcher.start();
    }
}
