package io.pgwarden.backup;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;

/** The backup_manifest pg_basebackup wrote beside its tar, copied into the daemon's spool (its directory goes with the run). */
record ManifestFileCopy(Path file, String end) implements ManifestCopy {
    /** @return empty if pg_basebackup wrote none */
    static Optional<ManifestFileCopy> of(Path written, io.pgwarden.storage.StagingDir spool) throws IOException {
        if (!Files.exists(written, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        // Written by the tool (in a sidecar, by its image): a link would have the daemon store a file of its own choosing.
        if (Files.isSymbolicLink(written.getParent()) || !Files.isRegularFile(written, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("'" + written + "' is not a regular file in the tool's directory");
        }
        Path copy = spool.newFile("backup-manifest");
        try {
            Files.copy(written, copy, StandardCopyOption.REPLACE_EXISTING);
            try (RandomAccessFile in = new RandomAccessFile(copy.toFile(), "r")) {
                long length = in.length();
                byte[] last = new byte[(int) Math.min(length, END_BYTES)];
                in.seek(length - last.length);
                in.readFully(last);
                return Optional.of(new ManifestFileCopy(copy, new String(last, StandardCharsets.UTF_8)));
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(copy);
            throw e;
        }
    }

    @Override
    public Optional<Path> manifestFile() {
        return Optional.of(file);
    }

    @Override
    public Optional<String> manifestEnd() {
        return Optional.of(end);
    }

    @Override
    public void close() throws IOException {
        Files.deleteIfExists(file);
    }
}
