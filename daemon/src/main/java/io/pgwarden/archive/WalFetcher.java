package io.pgwarden.archive;

import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.repository.VerifiedObject;
import io.pgwarden.repository.WalRepository;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/** Serves WAL back to restore_command, over HTTP or straight from the repository (wal-fetch). */
public final class WalFetcher {
    private final PgwardenConfig config;
    private final WalRepository wal;
    private final java.util.Map<String, WalSpool> spools;

    /** Straight from the repository (the standalone wal-fetch). */
    public WalFetcher(PgwardenConfig config, WalRepository wal) {
        this(config, wal, java.util.Map.of());
    }

    /** @param spools each cluster's WAL spool: a file acknowledged but not yet uploaded is served from there */
    public WalFetcher(PgwardenConfig config, WalRepository wal, java.util.Map<String, WalSpool> spools) {
        this.config = config;
        this.wal = wal;
        this.spools = java.util.Map.copyOf(spools);
    }

    /** The WAL file from the repository, ready to stream and verify, or empty if the repository does not have it. */
    public Optional<VerifiedObject> open(String cluster, String fileName) {
        config.cluster(cluster);
        return wal.open(cluster, WalFileName.parse(fileName));
    }

    /** The WAL file if it waits in the cluster's spool (acknowledged, not yet uploaded), read as a stored object is. */
    public Optional<VerifiedObject> openSpooled(String cluster, String fileName) {
        WalSpool spool = spools.get(cluster);
        if (spool == null) return Optional.empty();
        Optional<io.pgwarden.storage.StorageDriver.StoredObject> spooled = spool.open(WalFileName.parse(fileName));
        if (spooled.isEmpty()) return Optional.empty();
        try {
            return Optional.of(wal.verified(spooled.get()));
        } catch (RuntimeException e) {
            spooled.get().close();
            throw e;
        }
    }

    /**
     * {@link #fetchToFile} for a restore_command that looks in {@code spool} first ({@link SpoolPrefetcher} keeps the
     * segments after this one coming there). When the requested segment is missing, the archive has ended for this
     * recovery and the spool's segments are removed.
     */
    public void fetchWithSpool(String cluster, String fileName, Path dest, Path spool) throws IOException {
        WalFileName name = WalFileName.parse(fileName);
        try {
            fetchToFile(cluster, fileName, dest);
        } catch (PgwardenException e) {
            if (e.code() == io.pgwarden.error.ErrorCode.NOT_FOUND && name.kind() == WalFileName.Kind.SEGMENT) SpoolPrefetcher.clear(spool);
            throw e;
        }
    }

    /**
     * Writes the WAL file to dest atomically: a verified temp file renamed into place, so PostgreSQL never
     * reads a partial or corrupt file.
     */
    public void fetchToFile(String cluster, String fileName, Path dest) throws IOException {
        try (VerifiedObject object = open(cluster, fileName).orElseThrow(() -> PgwardenException.notFound(
                "WAL file '" + fileName + "' is not in the repository of cluster '" + cluster + "'"))) {
            Path tmp = dest.resolveSibling("." + dest.getFileName() + ".pgwarden-tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
                 OutputStream out = Channels.newOutputStream(ch)) {
                object.writeTo(out);
                ch.force(true);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
            Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
