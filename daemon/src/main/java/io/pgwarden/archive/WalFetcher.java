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

    public WalFetcher(PgwardenConfig config, WalRepository wal) {
        this.config = config;
        this.wal = wal;
    }

    /** The WAL file, ready to stream and verify, or empty if the repository does not have it. */
    public Optional<VerifiedObject> open(String cluster, String fileName) {
        config.cluster(cluster);
        return wal.open(cluster, WalFileName.parse(fileName));
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
