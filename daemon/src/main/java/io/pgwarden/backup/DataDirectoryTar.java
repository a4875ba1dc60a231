package io.pgwarden.backup;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import io.pgwarden.pg.PageChecksum;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a running cluster's data directory as a tar, file by file, between pg_backup_start and pg_backup_stop, with
 * what PostgreSQL's own base backup leaves out left out (basebackup.c): the contents of pg_wal and of directories
 * emptied at startup, temporary files, the relation cache, postmaster.pid, and the main forks of unlogged relations.
 * global/pg_control goes last, as the server sends it.
 * <p>Files change while they are read: each is copied up to the size it had when opened, zero-padded if it shrank;
 * WAL replay from the backup's start repairs both. A file that vanishes is skipped (a dropped relation).
 * <p>The data directory is writable by the database's owner, who may not read what the daemon can: every entry is
 * opened relative to its directory's descriptor without following symbolic links, so no link (planted, or swapped in
 * mid-copy) makes the daemon read outside the directory. Links, sockets and devices are left out, as PostgreSQL does.
 */
final class DataDirectoryTar {
    private static final Logger log = LoggerFactory.getLogger(DataDirectoryTar.class);
    private static final Set<String> SKIPPED_FILES = Set.of("postgresql.auto.conf.tmp", "current_logfiles.tmp", "backup_label",
            "tablespace_map", "backup_manifest", "postmaster.pid", "postmaster.opts");
    private static final Set<String> CONTENTS_SKIPPED = Set.of("pg_stat_tmp", "pg_replslot", "pg_dynshmem", "pg_notify", "pg_serial",
            "pg_snapshots", "pg_subtrans");
    private static final Pattern RELATION_FILE = Pattern.compile("(\\d+)(?:_(fsm|vm|init))?(?:\\.\\d+)?");
    private static final String CONTROL_FILE = "global/pg_control";

    private static final Pattern CHECKSUMMED_DIR = Pattern.compile("(base/\\d+|global)/");
    private static final Set<String> NOT_CHECKSUMMED = Set.of("pg_control", "pg_filenode.map", "PG_VERSION");
    private static final int REPORTED = 10;

    /**
     * Page checks as PostgreSQL's own backup makes them with data_checksums on: pages older than the backup's start
     * (later ones are rewritten by WAL replay) must hold their checksum; a failure is read again once (the server may
     * have been writing the page), then counted.
     * @param startLsn the backup's start: pages with a later LSN are not checked
     * @param segmentBlocks blocks per relation segment file (segment_size)
     */
    record PageChecks(long startLsn, long segmentBlocks) {
    }

    private final Path root;
    private final OutputStream out;
    private final TarWriter tar;
    private final PageChecks checks;
    private final byte[] buffer = new byte[1 << 20];
    private final byte[] reread = new byte[PageChecksum.BLOCK];
    private final java.util.List<String> corrupt = new java.util.ArrayList<>();
    private long corruptPages;
    private long files;

    /** @param checks null: the cluster has no data checksums */
    DataDirectoryTar(Path root, OutputStream out, PageChecks checks) throws IOException {
        this.root = root;
        this.out = out;
        this.checks = checks;
        this.tar = new TarWriter(out, (Integer) Files.getAttribute(root, "unix:uid"), (Integer) Files.getAttribute(root, "unix:gid"));
    }

    /** Pages that failed their checksum twice: how many, and the first few as "file block N". */
    long corruptPages() {
        return corruptPages;
    }

    java.util.List<String> corruptPagesReported() {
        return java.util.List.copyOf(corrupt);
    }

    /**
     * Every file, global/pg_control last (before the backup stops, as the server's own backup sends it: on a standby
     * its minimum recovery point must not be older than the files); then the caller stops the backup and {@link #finish}es.
     */
    void writeFiles() throws IOException {
        try (SecureDirectoryStream<Path> top = secure(Files.newDirectoryStream(root), root)) {
            walk(top, "");
            try (SecureDirectoryStream<Path> global = top.newDirectoryStream(Path.of("global"), LinkOption.NOFOLLOW_LINKS)) {
                PosixFileAttributes attributes = attributes(global, Path.of("pg_control"));
                if (attributes == null || !attributes.isRegularFile()) throw new NoSuchFileException(root.resolve(CONTROL_FILE).toString());
                copy(global, Path.of("pg_control"), CONTROL_FILE, attributes);
            } catch (NoSuchFileException e) {
                throw new IOException("'" + root.resolve(CONTROL_FILE) + "' is missing: is '" + root + "' a PostgreSQL data directory?", e);
            }
        }
    }

    /** The backup_label from pg_backup_stop, then the end of the archive. */
    void finish(String backupLabel, long mtime) throws IOException {
        tar.file("backup_label", 0600, backupLabel.getBytes(java.nio.charset.StandardCharsets.UTF_8), mtime);
        tar.finish();
    }

    long files() {
        return files;
    }

    private void walk(SecureDirectoryStream<Path> dir, String prefix) throws IOException {
        Set<String> unlogged = prefix.matches("base/\\d+/") ? unloggedRelations(dir) : Set.of();
        for (Path entry : dir) {
            if (Thread.currentThread().isInterrupted()) throw new InterruptedIOException("the copy of '" + root + "' was interrupted");
            String name = entry.getFileName().toString();
            String path = prefix + name;
            if (skipped(name, path, unlogged)) continue;
            PosixFileAttributes attributes = attributes(dir, entry.getFileName());
            if (attributes == null) continue; // vanished
            if (path.equals("pg_wal")) {
                // Its contents come from the archive; a pg_wal that is a link (initdb -X) is a directory in the backup.
                tar.directory("pg_wal", 0700, seconds(attributes));
                tar.directory("pg_wal/archive_status", 0700, seconds(attributes));
            } else if (attributes.isDirectory()) {
                directory(dir, entry.getFileName(), path, attributes);
            } else if (attributes.isRegularFile()) {
                if (!path.equals(CONTROL_FILE)) copy(dir, entry.getFileName(), path, attributes);
            } else {
                log.warn("base backup of '{}': '{}' is not a regular file or directory: left out, as PostgreSQL's own backup does", root, path);
            }
        }
    }

    private void directory(SecureDirectoryStream<Path> parent, Path name, String path, PosixFileAttributes attributes) throws IOException {
        SecureDirectoryStream<Path> dir;
        try {
            dir = parent.newDirectoryStream(name, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return; // a database dropped during the copy
        }
        try (dir) {
            tar.directory(path, mode(attributes), seconds(attributes));
            if (!CONTENTS_SKIPPED.contains(path)) walk(dir, path + "/");
        }
    }

    private void copy(SecureDirectoryStream<Path> dir, Path name, String path, PosixFileAttributes attributes) throws IOException {
        SeekableByteChannel channel;
        try {
            channel = dir.newByteChannel(name, Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS));
        } catch (NoSuchFileException e) {
            return;
        } catch (java.nio.file.FileSystemException e) {
            // A link swapped in after the entry was judged a file (ELOOP) is left out, never followed; anything else
            // (permission denied) fails the backup: a backup missing a file must not commit.
            PosixFileAttributes now = attributes(dir, name);
            if (now == null || !now.isSymbolicLink()) throw e;
            log.warn("base backup of '{}': '{}' became a symbolic link while read: left out", root, path);
            return;
        }
        try (channel) {
            long size = channel.size();
            tar.fileHeader(path, mode(attributes), size, seconds(attributes));
            long firstBlock = checks == null ? -1 : firstBlock(path);
            long left = size;
            ByteBuffer view = ByteBuffer.wrap(buffer);
            while (left > 0) {
                long position = size - left;
                view.clear().limit((int) Math.min(buffer.length, left));
                while (view.hasRemaining() && channel.read(view) >= 0) {
                    // a whole chunk, so that pages are checked whole
                }
                int n = view.position();
                if (n == 0) break;
                if (firstBlock >= 0) checkPages(channel, path, firstBlock, position, n);
                out.write(buffer, 0, n);
                left -= n;
                if (n < view.limit()) break;
            }
            // Shrunk while read (a truncated relation): the tar entry keeps its size; replay rewrites these blocks.
            while (left > 0) {
                int n = (int) Math.min(buffer.length, left);
                java.util.Arrays.fill(buffer, 0, n, (byte) 0);
                out.write(buffer, 0, n);
                left -= n;
            }
            tar.pad(size);
            files++;
        }
    }

    /** The block number of a relation file's first page; -1 if the file holds no checksummed pages. */
    private long firstBlock(String path) {
        int slash = path.lastIndexOf('/');
        String name = path.substring(slash + 1);
        if (!CHECKSUMMED_DIR.matcher(path.substring(0, slash + 1)).matches() || NOT_CHECKSUMMED.contains(name)) return -1;
        Matcher m = RELATION_FILE.matcher(name);
        if (!m.matches()) return -1;
        int dot = name.indexOf('.');
        long segment = dot < 0 ? 0 : Long.parseLong(name.substring(dot + 1));
        return segment * checks.segmentBlocks();
    }

    /** Checks the whole pages among {@code n} bytes read at {@code position}; a failing page is read again once. */
    private void checkPages(SeekableByteChannel channel, String path, long firstBlock, long position, int n) throws IOException {
        for (int offset = 0; offset + PageChecksum.BLOCK <= n; offset += PageChecksum.BLOCK) {
            if (PageChecksum.lsn(buffer, offset) >= checks.startLsn()) continue;
            long block = firstBlock + (position + offset) / PageChecksum.BLOCK;
            if (PageChecksum.verifies(buffer, offset, block)) continue;
            // Torn by a concurrent write? Read it again; the second copy goes into the backup.
            long at = channel.position();
            channel.position(position + offset);
            ByteBuffer again = ByteBuffer.wrap(reread);
            while (again.hasRemaining() && channel.read(again) >= 0) {
                // a whole page
            }
            int got = again.position();
            channel.position(at);
            if (got == PageChecksum.BLOCK) {
                System.arraycopy(reread, 0, buffer, offset, PageChecksum.BLOCK);
                if (PageChecksum.lsn(buffer, offset) >= checks.startLsn() || PageChecksum.verifies(buffer, offset, block)) continue;
            }
            corruptPages++;
            if (corrupt.size() < REPORTED) corrupt.add(path + " block " + block);
        }
    }

    private static boolean skipped(String name, String path, Set<String> unlogged) {
        if (SKIPPED_FILES.contains(name) || name.startsWith("pg_internal.init") || name.startsWith("pgsql_tmp")) return true;
        if (unlogged.isEmpty()) return false;
        Matcher m = RELATION_FILE.matcher(name);
        return m.matches() && unlogged.contains(m.group(1)) && !"init".equals(m.group(2));
    }

    /** Relations with an init fork in a database directory: unlogged, their other forks are reset from it at recovery. */
    private static Set<String> unloggedRelations(SecureDirectoryStream<Path> dir) throws IOException {
        Set<String> found = new HashSet<>();
        // A second pass over the directory: only the (few) unlogged relations are kept, not the listing.
        try (SecureDirectoryStream<Path> again = dir.newDirectoryStream(Path.of("."), LinkOption.NOFOLLOW_LINKS)) {
            for (Path entry : again) {
                Matcher m = RELATION_FILE.matcher(entry.getFileName().toString());
                if (m.matches() && "init".equals(m.group(2))) found.add(m.group(1));
            }
        }
        return found;
    }

    private static PosixFileAttributes attributes(SecureDirectoryStream<Path> dir, Path name) throws IOException {
        try {
            return dir.getFileAttributeView(name, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).readAttributes();
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static int mode(PosixFileAttributes attributes) {
        int mode = 0;
        for (PosixFilePermission p : attributes.permissions()) mode |= 1 << (8 - p.ordinal());
        return mode;
    }

    private static long seconds(PosixFileAttributes attributes) {
        return attributes.lastModifiedTime().toMillis() / 1000;
    }

    private static SecureDirectoryStream<Path> secure(DirectoryStream<Path> stream, Path dir) throws IOException {
        if (stream instanceof SecureDirectoryStream<Path> secure) return secure;
        stream.close();
        throw new IOException("cannot read '" + dir + "' safely: this platform has no directory-relative file access");
    }
}
