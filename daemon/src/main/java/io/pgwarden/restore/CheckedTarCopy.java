package io.pgwarden.restore;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.VerifiedObject;
import io.pgwarden.io.BlockingPipe;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Passes a base backup's tar on to a tar extractor elsewhere (a sidecar filling a volume) entry by entry, each one
 * judged by {@link SafeTarExtractor}'s rule first: what reaches the extractor is directories and regular files under
 * plain relative names, rewritten as a fresh tar, so no crafted entry of the repository's can place a byte outside
 * the volume's data directory, whatever the extractor would do with it.
 */
final class CheckedTarCopy {
    private static final int RECORD = 10240;
    static final String MANIFEST = "backup_manifest";

    private CheckedTarCopy() {
    }

    /** Copies the verified object's tar into {@code out} (not closed), ending it with tar's end blocks and padding. */
    static void copy(VerifiedObject base, OutputStream out, String what) throws IOException {
        copy(base, null, out, what);
    }

    /**
     * @param manifest added as member backup_manifest (0600) when the tar has none (PostgreSQL compressed it: the
     *                 manifest was stored beside it); null: none is added
     */
    static void copy(VerifiedObject base, java.util.function.Supplier<VerifiedObject> manifest, OutputStream out, String what) throws IOException {
        BlockingPipe pipe = new BlockingPipe();
        CompletableFuture<Void> download = pipe.feedFrom(base::writeTo, 1 << 20, "restore-check");
        try (InputStream raw = pipe; TarArchiveInputStream in = new TarArchiveInputStream(raw)) {
            // 10240-byte records, as tar reads them: the sidecar's stdin never ends (docker attach), so tar must find
            // the end of the archive inside a whole record, or it waits for the rest of one forever.
            TarArchiveOutputStream tar = new TarArchiveOutputStream(new NotClosing(out), RECORD);
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            TarArchiveEntry entry;
            boolean hasManifest = false;
            while ((entry = in.getNextEntry()) != null) {
                boolean directory = SafeTarExtractor.judge(entry);
                String name = SafeTarExtractor.relativeName(entry);
                hasManifest |= name.equals(MANIFEST);
                TarArchiveEntry clean = new TarArchiveEntry(directory ? name + "/" : name);
                clean.setMode(entry.getMode() & 0777);
                clean.setModTime(entry.getModTime());
                if (!directory) clean.setSize(entry.getSize());
                tar.putArchiveEntry(clean);
                if (!directory) in.transferTo(tar);
                tar.closeArchiveEntry();
            }
            raw.transferTo(OutputStream.nullOutputStream()); // the whole object must be verified
            awaitVerified(download);
            if (!hasManifest && manifest != null) {
                try (VerifiedObject copy = manifest.get()) {
                    TarArchiveEntry added = new TarArchiveEntry(MANIFEST);
                    added.setMode(0600);
                    added.setSize(copy.rawSize());
                    tar.putArchiveEntry(added);
                    copy.writeTo(tar);
                    tar.closeArchiveEntry();
                }
            }
            tar.finish();
        } catch (SafeTarExtractor.UnsafeEntryException e) {
            throw PgwardenException.integrity(what + ": " + e.getMessage() + "; refusing to restore it, nothing of it reached the volume");
        } catch (BlockingPipe.ReaderGone e) {
            throw e; // the sidecar stopped reading: its own error says why, and the rest of the object is not wanted
        } catch (IOException e) {
            awaitVerified(download); // the repository's error explains a broken stream better than the tar reader's
            throw e;
        }
    }

    private static void awaitVerified(CompletableFuture<Void> download) {
        try {
            download.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new PgwardenException(ErrorCode.INTERNAL, e.getMessage(), e);
        }
    }

    /** The sidecar's input stays open: the caller ends it. */
    private static final class NotClosing extends java.io.FilterOutputStream {
        NotClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
