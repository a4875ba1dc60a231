package io.pgwarden.cli;

import io.pgwarden.archive.WalFetcher;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.repository.ClusterInfo;
import io.pgwarden.repository.ClusterInfoStore;
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

    @Option(names = "--prefetch", hidden = true, description = "run as the spool's background prefetcher, after WALFILE")
    boolean prefetch;

    @Option(names = "--first", hidden = true, description = "with --prefetch: WALFILE is the first segment to fetch (a call waits for it)")
    boolean first;

    @Override
    public Integer call() throws Exception {
        PgwardenConfig cfg = options.load();
        if (ahead < 0 || ahead > 64) throw new PgwardenException(ErrorCode.USAGE, "--ahead must be 0..64");
        if (prefetch && spool == null) throw new PgwardenException(ErrorCode.USAGE, "--prefetch needs --spool");
        if (!prefetch && dest == null) throw new PgwardenException(ErrorCode.USAGE, "give DEST, where to write the WAL file (%p)");
        // The prefetcher's JVM starts while this one fetches its file, not after: one JVM start on the recovery's path.
        if (!prefetch && spool != null && ahead > 0 && isSegment(walFile) && !endedAt(walFile)) {
            try {
                startPrefetcher(walFile);
            } catch (IOException e) {
                // Fetching ahead only saves time: this call still fetches its file (and reports what fails there).
                System.err.println("pgwarden wal-fetch: not fetching ahead into '" + spool + "': " + e.getMessage());
            }
        }
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.READ)) {
            WalFetcher fetcher = new WalFetcher(cfg, new WalRepository(storage, cfg.repository()));
            if (prefetch) {
                new SpoolPrefetcher(fetcher, options.cluster, spool, ahead, segmentSize(storage)).run(WalFileName.parse(walFile), first);
            } else if (spool == null) {
                fetcher.fetchToFile(options.cluster, walFile, dest);
            } else {
                try {
                    fetcher.fetchWithSpool(options.cluster, walFile, dest, spool);
                } catch (PgwardenException e) {
                    if (e.code() == ErrorCode.NOT_FOUND && isSegment(walFile)) noteEnd(walFile);
                    throw e;
                }
            }
        }
        return 0;
    }

    private static boolean isSegment(String file) {
        try {
            return WalFileName.parse(file).kind() == WalFileName.Kind.SEGMENT;
        } catch (RuntimeException e) {
            return false; // the fetch reports the bad name
        }
    }

    /** The size the repository pinned for the cluster's segments (the prefetcher names the next ones by it). */
    private long segmentSize(StorageDriver storage) {
        return new ClusterInfoStore(storage).get(options.cluster).map(ClusterInfo::segmentSize).orElseThrow(() -> new PgwardenException(
                ErrorCode.NOT_FOUND, "cluster '" + options.cluster + "' has archived nothing (no cluster info in the repository): nothing to prefetch"));
    }

    /**
     * The archive ended at this segment on the last call (a standby asking again and again for the next segment):
     * no prefetcher JVM for each of those calls.
     */
    private boolean endedAt(String file) {
        try {
            return file.equals(Files.readString(spool.resolve(SpoolPrefetcher.ENDED)).strip());
        } catch (IOException e) {
            return false;
        }
    }

    private void noteEnd(String file) {
        try {
            Files.createDirectories(spool);
            Files.writeString(spool.resolve(SpoolPrefetcher.ENDED), file);
        } catch (IOException e) {
            // only the next call's prefetcher start depends on it
        }
    }

    /**
     * A process of its own, left running when this one exits (PostgreSQL waits for this call only): the recovery
     * replays this segment while the next ones download. Its output goes to a log in the spool (0700).
     */
    private void startPrefetcher(String after) throws IOException {
        Files.createDirectories(spool);
        Files.setPosixFilePermissions(spool, PosixFilePermissions.fromString("rwx------"));
        Files.writeString(spool.resolve(SpoolPrefetcher.WANTED), after);
        if (SpoolPrefetcher.running(spool)) return;
        String launcher = System.getProperty("pgwarden.launcher", "pgwarden");
        List<String> command = List.of(launcher, "wal-fetch", "--config", options.config.toAbsolutePath().toString(), "--cluster", options.cluster,
                "--spool", spool.toAbsolutePath().toString(), "--ahead", Integer.toString(ahead), "--prefetch", after);
        Path log = spool.resolve(SpoolPrefetcher.LOG);
        ProcessBuilder prefetcher = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).redirectErrorStream(true);
        // The launcher gives short commands C1 only; this one hashes and decrypts for the whole recovery: full JIT
        // (before the operator's own options, which still win).
        String opts = System.getenv().getOrDefault("PGWARDEN_JAVA_OPTS", "");
        prefetcher.environment().put("PGWARDEN_JAVA_OPTS", ("-XX:TieredStopAtLevel=4 " + opts).strip());
        Process started = prefetcher.start();
        // A pid at once (the launcher's, alive as long as the JVM it runs), so that the next call's shell part waits for
        // the segment instead of starting a JVM of its own while this one starts; the JVM writes its own once it holds
        // the spool, and one that cannot hold it exits, which the shell part sees (kill -0).
        Files.writeString(spool.resolve(SpoolPrefetcher.PID), Long.toString(started.pid()));
    }
}
