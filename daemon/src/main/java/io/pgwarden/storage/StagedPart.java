package io.pgwarden.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A part larger than the upload memory, staged in a file: read from the source once, sent (and re-sent on a retry)
 * from the file, which is deleted on release. Only the parts of very large objects get here (see {@link PartSizes}).
 */
final class StagedPart implements UploadPart {
    private final Path file;
    private final long length;
    private boolean released;

    private StagedPart(Path file, long length) {
        this.file = file;
        this.length = length;
    }

    /** Copies up to {@code max} bytes of {@code in} into a new file in {@code staging}; nothing is left on failure. */
    static StagedPart read(StagingDir staging, InputStream in, long max) throws IOException {
        Path file;
        try {
            file = staging.newFile("part");
        } catch (IOException e) {
            throw new StagingException("cannot stage an upload part in '" + staging.dir() + "': " + e, e);
        }
        try {
            long length = 0;
            byte[] buffer = new byte[64 << 10];
            try (OutputStream out = Files.newOutputStream(file)) {
                int n;
                while (length < max && (n = in.read(buffer, 0, (int) Math.min(buffer.length, max - length))) >= 0) {
                    try {
                        out.write(buffer, 0, n);
                    } catch (IOException e) {
                        throw new StagingException("cannot stage an upload part in '" + staging.dir() + "': " + e.getMessage(), e);
                    }
                    length += n;
                }
            }
            return new StagedPart(file, length);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(file);
            throw e;
        }
    }

    /** Writing the staged file failed (a full or read-only disk): not the source's fault. */
    static final class StagingException extends IOException {
        StagingException(String message, IOException cause) {
            super(message, cause);
        }
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public synchronized InputStream open() {
        if (released) throw new IllegalStateException("staged part " + file + " already removed");
        try {
            return Files.newInputStream(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public synchronized void release() {
        if (released) return;
        released = true;
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // The owner's next start removes it (its name is in the owner's spool pattern).
        }
    }
}
