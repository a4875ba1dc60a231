package io.pgwarden.restore;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Unpacks the entries of a base backup's tar into a directory, refusing every entry that could place or write a
 * byte outside it. The tar comes from the repository, which anyone with write access to the bucket can craft, and
 * its checksum is known only at the end of the stream: so each entry is judged on its own, before it is written.
 * <p>The rule: plain relative names (no absolute name, no {@code ..}, no empty or {@code .} component), and only
 * directories and regular files. Symbolic links are refused, {@code pg_tblspc/*} included: pgwarden's base backup is
 * the single tar stream pg_basebackup writes to stdout, which it cannot do for a cluster with tablespaces (and the
 * backup refuses such clusters), so a link in one was never made by PostgreSQL. With no link ever created, no later
 * entry, chmod or recovery setting can be redirected through one. Hard links, devices and FIFOs are refused too.
 */
final class SafeTarExtractor {
    private final Path root;

    /** @param root an existing, empty directory that is not itself a symbolic link */
    SafeTarExtractor(Path root) {
        this.root = root;
    }

    /** Writes one entry; {@code content} is positioned at its data. Throws naming the entry for anything refused. */
    void extract(TarArchiveEntry entry, InputStream content) throws IOException {
        boolean directory = judge(entry);
        Path target = place(relativeName(entry));
        if (directory) {
            Files.createDirectories(target);
        } else {
            Files.createDirectories(target.getParent());
            try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS)) {
                content.transferTo(out);
            } catch (FileAlreadyExistsException e) {
                throw refused(entry, "appears twice");
            }
        }
        Files.getFileAttributeView(target, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setPermissions(permissions(entry.getMode()));
    }

    /** The rule on its own: true for a directory, false for a regular file; anything else is refused. */
    static boolean judge(TarArchiveEntry entry) throws UnsafeEntryException {
        relativeName(entry);
        if (entry.isDirectory()) return true;
        if (isRegularFile(entry)) return false;
        throw refused(entry, "is " + kind(entry) + "; a base backup holds only directories and regular files");
    }

    /** The entry's name as plain relative components joined by '/' (a leading "./" dropped), or refused. */
    static String relativeName(TarArchiveEntry entry) throws UnsafeEntryException {
        String name = entry.getName();
        String relative = name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
        if (relative.startsWith("./")) relative = relative.substring(2);
        if (relative.isEmpty() || name.startsWith("/")) throw refused(name, "is not a relative path");
        for (String part : relative.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) throw refused(name, "has a '" + part + "' component");
            if (part.indexOf('\0') >= 0) throw refused(name, "contains a NUL byte");
        }
        return relative;
    }

    /** The path under the root; nothing on the way may be a link (none is ever created, but the check costs a stat). */
    private Path place(String relative) throws IOException {
        Path target = root;
        for (String part : relative.split("/")) {
            target = target.resolve(part);
            if (Files.isSymbolicLink(target)) throw refused(relative, "passes through a symbolic link");
        }
        return target;
    }

    /** By the type flag alone: commons-compress's isFile() also says yes to links and devices. */
    private static boolean isRegularFile(TarArchiveEntry entry) {
        byte flag = entry.getLinkFlag();
        return (flag == TarConstants.LF_NORMAL || flag == TarConstants.LF_OLDNORM) && !entry.getName().endsWith("/");
    }

    private static String kind(TarArchiveEntry entry) {
        if (entry.isSymbolicLink()) return "a symbolic link to '" + entry.getLinkName() + "'";
        if (entry.isLink()) return "a hard link to '" + entry.getLinkName() + "'";
        if (entry.isCharacterDevice() || entry.isBlockDevice()) return "a device file";
        if (entry.isFIFO()) return "a FIFO";
        return "of tar type '" + (char) entry.getLinkFlag() + "'";
    }

    private static UnsafeEntryException refused(TarArchiveEntry entry, String why) {
        return refused(entry.getName(), why);
    }

    private static UnsafeEntryException refused(String name, String why) {
        return new UnsafeEntryException("tar entry '" + name.replaceAll("\\p{Cntrl}", "?") + "' " + why);
    }

    /** An entry that must not be unpacked: the backup is hostile or broken, not the disk. */
    static final class UnsafeEntryException extends IOException {
        UnsafeEntryException(String message) {
            super(message);
        }
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        StringBuilder s = new StringBuilder();
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) s.append((mode & (1 << (8 - i))) != 0 ? rwx.charAt(i) : '-');
        return PosixFilePermissions.fromString(s.toString());
    }
}
