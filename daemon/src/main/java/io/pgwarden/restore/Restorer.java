package io.pgwarden.restore;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.BackupObjects;
import io.pgwarden.repository.BaseBackupManifest;
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
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.slf4j.LoggerFactory;

/**
 * Carries out a plan: streams the base backup from the repository, verifies its SHA-256, decompresses and
 * unpacks it into an empty directory, then writes the recovery settings. An incremental backup is unpacked with the
 * backups it builds on, each into a directory of its own inside the target, and pg_combinebackup joins them. Nothing is
 * buffered whole; a failure (corrupt object, full disk) removes what was unpacked, so no half-restored directory is
 * left to be started.
 */
public final class Restorer {
    /** Inside the target directory while a chain is unpacked and combined; its members go once combined. */
    static final String CHAIN_DIR = ".pgwarden-chain";

    private final StorageDriver storage;
    private final io.pgwarden.repository.Encoding encoding;
    private final java.util.Optional<ChainCombiner> combiner;

    /** @param combiner for incremental backups; without, a plan with a chain is a programming error */
    Restorer(StorageDriver storage, io.pgwarden.repository.Encoding encoding, java.util.Optional<ChainCombiner> combiner) {
        this.storage = storage;
        this.encoding = encoding;
        this.combiner = combiner;
    }

    public void restore(RestorePlan plan, Path targetDir, RecoverySettings settings, Progress progress) {
        boolean chain = !plan.parents().isEmpty();
        if (chain && combiner.isEmpty()) throw new IllegalStateException("a plan with an incremental chain reached a restore that cannot combine it");
        prepare(targetDir);
        try {
            if (chain) combineInto(plan, targetDir, progress);
            else unpack(plan.backup(), targetDir, progress);
            progress.done();
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

    /** Every member unpacked and verified before pg_combinebackup runs; its output's entries then move up into {@code dir}. */
    private void combineInto(RestorePlan plan, Path dir, Progress progress) {
        ChainCombiner tool = combiner.orElseThrow();
        tool.check(plan);
        Path work = dir.resolve(CHAIN_DIR);
        List<Path> members = new ArrayList<>();
        for (BaseBackupManifest member : plan.members()) {
            Path memberDir = work.resolve(Integer.toString(members.size()));
            prepare(memberDir);
            unpack(member, memberDir, progress);
            members.add(memberDir);
        }
        Path combined = work.resolve("combined");
        tool.combine(plan, work, members, combined);
        // One filesystem: renames, no copies.
        try (Stream<Path> entries = Files.list(combined)) {
            for (Path entry : (Iterable<Path>) entries::iterator) Files.move(entry, dir.resolve(entry.getFileName()));
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.INTERNAL, "cannot move the combined data directory '" + combined + "' into '" + dir + "': "
                    + e.getMessage(), e);
        }
        deleteTree(work, true);
    }

    private void unpack(BaseBackupManifest backup, Path dir, Progress progress) {
        BlockingPipe pipe = new BlockingPipe();
        VerifiedObject object = BackupObjects.openBase(storage, encoding, backup);
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
            throw PgwardenException.integrity("base backup " + backup.backupId() + " (repository object '" + backup.dataKey()
                    + "'): " + e.getMessage() + "; refusing to restore it, nothing was written outside '" + dir + "'");
        } catch (IOException e) {
            throw failure(download, "cannot unpack base backup " + backup.backupId() + " into '" + dir + "': " + e.getMessage(), e);
        }
        try {
            download.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new PgwardenException(ErrorCode.INTERNAL, e.getMessage(), e);
        }
        addManifest(backup, dir);
    }

    /**
     * A tar PostgreSQL compressed holds no backup_manifest (it was stored beside it); pg_combinebackup needs one in
     * every member of a chain, and a restored copy matches one from a tar with it.
     */
    private void addManifest(BaseBackupManifest backup, Path dir) {
        Path file = dir.resolve(CheckedTarCopy.MANIFEST);
        if (backup.backupManifest() == null || Files.exists(file, LinkOption.NOFOLLOW_LINKS)) return;
        try (VerifiedObject manifest = BackupObjects.openBasePgManifest(storage, encoding, backup);
             OutputStream out = Files.newOutputStream(file, java.nio.file.StandardOpenOption.CREATE_NEW)) {
            manifest.writeTo(out);
            Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.INTERNAL, "cannot write the backup_manifest of base backup " + backup.backupId() + " into '"
                    + dir + "': " + e.getMessage(), e);
        }
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
