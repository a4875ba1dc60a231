package io.pgwarden.pg;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Proves that a directory is the data directory of the server a backup talks to: its pg_control holds the server's
 * system identifier and PG_VERSION its major. A configured path that points at another cluster (a copy, an old
 * version, a standby's) would otherwise be backed up under this cluster's name.
 */
public final class DataDirectoryIdentity {
    private DataDirectoryIdentity() {
    }

    public static void check(String cluster, Path dataDirectory, ServerInfo server) {
        String what = "cluster '" + cluster + "': baseBackup.dataDirectory '" + dataDirectory + "'";
        if (server.systemIdentifier().isEmpty()) {
            throw new PgwardenException(ErrorCode.CONFIG, what + ": cannot confirm it belongs to the server, whose system identifier the"
                    + " role may not read; HINT: GRANT pg_monitor TO the backup role");
        }
        long expected = server.systemIdentifier().getAsLong();
        long found;
        String version;
        try (java.nio.file.DirectoryStream<Path> stream = Files.newDirectoryStream(dataDirectory)) {
            if (!(stream instanceof java.nio.file.SecureDirectoryStream<Path> top)) throw new IOException("no directory-relative file access here");
            found = systemIdentifier(top, dataDirectory);
            version = pgVersion(top, dataDirectory);
        } catch (NoSuchFileException e) {
            throw new PgwardenException(ErrorCode.CONFIG, what + " is not a PostgreSQL data directory: '" + where(dataDirectory, e) + "' does not exist", e);
        } catch (AccessDeniedException e) {
            throw new PgwardenException(ErrorCode.CONFIG, what + ": the daemon may not read '" + where(dataDirectory, e) + "'; HINT: run the daemon as the"
                    + " server's owner, or initdb --allow-group-access (data directory mode 0750) and add the daemon's user to its group", e);
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.CONFIG, what + ": cannot read it: " + e.getMessage(), e);
        }
        if (found != expected) {
            throw new PgwardenException(ErrorCode.CONFIG, what + " belongs to another cluster: its pg_control has system identifier "
                    + Long.toUnsignedString(found) + ", the server at the connection has " + Long.toUnsignedString(expected)
                    + "; nothing was backed up");
        }
        if (!version.equals(Integer.toString(server.major()))) {
            throw new PgwardenException(ErrorCode.CONFIG, what + " holds PG_VERSION " + version + ", the server runs " + server.major());
        }
    }

    /** The file an error names, which a directory-relative read names relative to the data directory. */
    private static Path where(Path dataDirectory, java.nio.file.FileSystemException e) {
        return e.getFile() == null ? dataDirectory : dataDirectory.resolve(e.getFile());
    }

    /**
     * pg_control begins with the system identifier, a uint64 in the machine's byte order. Like every file here, read
     * relative to the data directory's descriptor without following links (as the copy reads them): the directory is
     * the database owner's, who must not make the daemon read a file elsewhere.
     */
    private static long systemIdentifier(java.nio.file.SecureDirectoryStream<Path> top, Path dataDirectory) throws IOException {
        try (java.nio.file.SecureDirectoryStream<Path> global = top.newDirectoryStream(Path.of("global"), LinkOption.NOFOLLOW_LINKS);
             SeekableByteChannel c = global.newByteChannel(Path.of("pg_control"), java.util.Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
            return firstLong(c, dataDirectory.resolve("global/pg_control"));
        }
    }

    /** PG_VERSION's major ("15"), read no further than a version file can be; its content is not echoed unless it is one. */
    private static String pgVersion(java.nio.file.SecureDirectoryStream<Path> top, Path dataDirectory) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16);
        try (SeekableByteChannel c = top.newByteChannel(Path.of("PG_VERSION"), java.util.Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
            while (b.hasRemaining() && c.read(b) > 0) {
                // fill
            }
        }
        String text = new String(b.array(), 0, b.position(), java.nio.charset.StandardCharsets.US_ASCII).strip();
        if (!text.matches("[0-9]{1,4}")) throw new IOException("'" + dataDirectory.resolve("PG_VERSION") + "' is not a PostgreSQL version file");
        return text;
    }

    private static long firstLong(SeekableByteChannel c, Path controlFile) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
        while (b.hasRemaining() && c.read(b) > 0) {
            // fill
        }
        if (b.hasRemaining()) throw new IOException("'" + controlFile + "' is shorter than a pg_control file");
        return b.flip().getLong();
    }
}
