package io.pgwarden.restore;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.BackupObjects;
import io.pgwarden.repository.VerifiedObject;
import io.pgwarden.io.BlockingPipe;
import io.pgwarden.storage.StorageDriver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.slf4j.LoggerFactory;

/**
 * Carries out a plan: streams the base backup from the repository, verifies its SHA-256, decompresses and
 * unpacks it into an empty directory, then writes the recovery settings. Nothing is buffered whole; a failure
 * (corrupt object, full disk) removes what was unpacked, so no half-restored directory is left to be started.
 */
public final class Restorer {
    private final StorageDriver storage;
    private final io.pgwarden.repository.Encoding encoding;

    public Restorer(StorageDriver storage, io.pgwarden.repository.Encoding encoding) {
        this.storage = storage;
        this.encoding = encoding;
    }

    public void restore(RestorePlan plan, Path targetDir, RecoverySettings settings, Progress progress) {
        if (!plan.parents().isEmpty()) {
            throw new IllegalStateException("a plan with an incremental chain reached a directory restore; only volume restores combine chains");
        }
        prepare(targetDir);
        try {
            unpack(plan, targetDir, progress);
            settings.writeTo(targetDir);
        } catch (RuntimeException e) {
            deleteTree(targetDir, false);
            throw e;
        }
    }

    /** The directory must be empty or absent: a restore never overwrites anything. */
    private static void prepare(Path dir) {
        try {
            if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) throw usage("target '" + dir + "' exists and is not a directory");
                try (Stream<Path> entries = Files.list(dir)) {
                    if (entries.findAny().isPresent()) throw usage("target directory '" + dir + "' is not empty; refusing to restore over it");
                }
            } else {
                Files.createDirectories(dir);
            }
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------")); // PostgreSQL insists on 0700
        } catch (IOException e) {
            throw usage("cannot prepare target directory '" + dir + "': " + e.getMessage());
        }
    }

    private void unpack(RestorePlan plan, Path dir, Progress progress) {
        BlockingPipe pipe = new BlockingPipe();
        VerifiedObject object = BackupObjects.openBase(storage, encoding, plan.backup());
        // The verified stream runs beside the unpacking: a checksum mismatch arrives before the last bytes do.
        CompletableFuture<Void> download = pipe.feedFrom(out -> {
            try (object; OutputStream counted = progress.counting(out)) {
                object.writeTo(counted);
            }
        }, 1 << 20, "restore-download");
        SafeTarExtractor extractor = new SafeTarExtractor(dir);
        try (InputStream raw = pipe; TarArchiveInputStream tar = new TarArchiveInputStream(raw)) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) extractor.extract(entry, tar);
            raw.transferTo(OutputStream.nullOutputStream()); // tar's zero blocks: the whole object must be verified
        } catch (SafeTarExtractor.UnsafeEntryException e) {
            throw PgwardenException.integrity("base backup " + plan.backup().backupId() + " (repository object '" + plan.backup().dataKey()
                    + "'): " + e.getMessage() + "; refusing to restore it, nothing was written outside '" + dir + "'");
        } catch (IOException e) {
            throw failure(download, "cannot unpack base backup " + plan.backup().backupId() + " into '" + dir + "': " + e.getMessage(), e);
        }
        try {
            download.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new PgwardenException(ErrorCode.INTERNAL, e.getMessage(), e);
        }
        progress.done();
    }

    /** The repository's error (corrupt, unreachable) explains an unpacking failure better than the tar reader's. */
    private static PgwardenException failure(CompletableFuture<Void> download, String message, IOException cause) {
        try {
            download.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof PgwardenException p) return p;
        }
        return new PgwardenException(ErrorCode.INTERNAL, message, cause);
    }

    /**
     * Removes a directory tree, best effort (the error that brought us here is the one to report; what cannot be
     * removed is logged); {@code withRoot} false keeps the directory itself.
     */
    public static void deleteTree(Path dir, boolean withRoot) {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).filter(p -> withRoot || !p.equals(dir)).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LoggerFactory.getLogger(Restorer.class).warn("cannot remove '{}': {}", dir, e.getMessage());
        }
    }

    private static PgwardenException usage(String message) {
        return new PgwardenException(ErrorCode.USAGE, message);
    }
}
