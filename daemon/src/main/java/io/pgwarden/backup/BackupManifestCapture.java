package io.pgwarden.backup;

import java.io.BufferedOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * Follows a pg_basebackup tar stream member by member as it goes by and copies its backup_manifest member (pg_basebackup
 * adds the manifest to the tar it writes to stdout, after the data) into a file, so it can be stored as an object of its
 * own (an incremental backup hands its parent's manifest to pg_basebackup). The last 64 KiB are also kept in memory:
 * they hold the manifest's WAL-Ranges, which give a standby backup its stop point. The manifest of a cluster with many
 * files can be large; it goes to disk, and memory stays flat.
 */
final class BackupManifestCapture extends FilterInputStream implements ManifestCopy {
    static final String MEMBER = "backup_manifest";
    private static final int BLOCK = 512;

    private final byte[] header = new byte[BLOCK];
    private int headerFill;
    /** Bytes of the current member still to come: its content, then the padding to a whole block. */
    private long contentLeft;
    private long paddingLeft;
    private boolean capturing;
    /** The member's last bytes, a ring: {@code kept} bytes were written to it in all. */
    private final byte[] ring = new byte[END_BYTES];
    private long kept;
    private boolean seen;
    private final io.pgwarden.storage.StagingDir spool;
    private Path file;
    private OutputStream fileOut;

    /**
     * @param spool where the manifest's copy is written (server.spoolDir, named so a restart removes what a kill left)
     */
    BackupManifestCapture(InputStream in, io.pgwarden.storage.StagingDir spool) {
        super(in);
        this.spool = spool;
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) follow(new byte[] {(byte) b}, 0, 1);
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) follow(b, off, n);
        return n;
    }

    /** The whole backup_manifest member, once the tar has been read past it. */
    @Override
    public Optional<Path> manifestFile() {
        return fileOut == null ? Optional.ofNullable(file) : Optional.empty();
    }

    /** Removes the copy (also on failure); the stream itself is the caller's to close. */
    @Override
    public void close() throws IOException {
        if (fileOut != null) fileOut.close();
        fileOut = null;
        if (file != null) Files.deleteIfExists(file);
    }

    @Override
    public long skip(long n) throws IOException {
        // Every byte must pass through follow(): read instead of skipping.
        byte[] buf = new byte[(int) Math.min(Math.max(n, 0), 8192)];
        int read = read(buf, 0, buf.length);
        return Math.max(read, 0);
    }

    /** The last bytes of the backup_manifest member, if the tar had one. */
    @Override
    public Optional<String> manifestEnd() {
        if (!seen) return Optional.empty();
        int length = (int) Math.min(kept, END_BYTES);
        int start = (int) ((kept - length) % END_BYTES);
        byte[] end = new byte[length];
        int first = Math.min(length, END_BYTES - start);
        System.arraycopy(ring, start, end, 0, first);
        System.arraycopy(ring, 0, end, first, length - first);
        return Optional.of(new String(end, StandardCharsets.UTF_8));
    }

    private void follow(byte[] b, int off, int n) throws IOException {
        int i = off;
        int end = off + n;
        while (i < end) {
            if (contentLeft > 0) {
                int take = (int) Math.min(contentLeft, end - i);
                if (capturing) {
                    keep(b, i, take);
                    try {
                        fileOut.write(b, i, take);
                    } catch (IOException e) {
                        throw new IOException("cannot copy the backup manifest into '" + spool.dir() + "': " + e.getMessage(), e);
                    }
                }
                contentLeft -= take;
                i += take;
                if (capturing && contentLeft == 0) endCapture();
            } else if (paddingLeft > 0) {
                int take = (int) Math.min(paddingLeft, end - i);
                paddingLeft -= take;
                i += take;
            } else {
                int take = Math.min(BLOCK - headerFill, end - i);
                System.arraycopy(b, i, header, headerFill, take);
                headerFill += take;
                i += take;
                if (headerFill == BLOCK) {
                    headerFill = 0;
                    startMember();
                }
            }
        }
    }

    private void startMember() throws IOException {
        if (isZero(header)) return; // the end-of-archive blocks
        long size = size(header);
        contentLeft = size;
        paddingLeft = (BLOCK - size % BLOCK) % BLOCK;
        String name = name(header);
        capturing = name.equals(MEMBER) || name.equals("./" + MEMBER);
        if (capturing) {
            seen = true;
            kept = 0;
            if (file != null) throw new IOException("the tar has a second " + MEMBER);
            try {
                file = spool.newFile("manifest");
                fileOut = new BufferedOutputStream(Files.newOutputStream(file), 64 << 10);
            } catch (IOException e) {
                throw new IOException("cannot copy the backup manifest into '" + spool.dir() + "': " + e.getMessage(), e);
            }
            if (size == 0) endCapture();
        }
    }

    private void endCapture() throws IOException {
        capturing = false;
        fileOut.close();
        fileOut = null;
    }

    private void keep(byte[] b, int off, int len) {
        int skip = Math.max(0, len - END_BYTES);
        kept += skip;
        for (int i = off + skip; i < off + len; ) {
            int at = (int) (kept % END_BYTES);
            int take = Math.min(off + len - i, END_BYTES - at);
            System.arraycopy(b, i, ring, at, take);
            kept += take;
            i += take;
        }
    }

    private static boolean isZero(byte[] block) {
        for (byte x : block) if (x != 0) return false;
        return true;
    }

    /** ustar: the name at 0 (100 bytes), with a prefix at 345 (155 bytes) when the magic at 257 says ustar. */
    private static String name(byte[] h) {
        String name = field(h, 0, 100);
        boolean ustar = new String(h, 257, 5, StandardCharsets.US_ASCII).equals("ustar");
        String prefix = ustar ? field(h, 345, 155) : "";
        return prefix.isEmpty() ? name : prefix + "/" + name;
    }

    /** The size at 124: octal digits, or base-256 (high bit set) for members of 8 GiB and more. */
    private static long size(byte[] h) {
        if ((h[124] & 0x80) != 0) {
            long v = 0;
            for (int k = 125; k < 136; k++) v = (v << 8) | (h[k] & 0xff);
            return v;
        }
        String octal = field(h, 124, 12).trim();
        return octal.isEmpty() ? 0 : Long.parseLong(octal, 8);
    }

    private static String field(byte[] h, int off, int len) {
        int end = off;
        while (end < off + len && h[end] != 0) end++;
        return new String(Arrays.copyOfRange(h, off, end), StandardCharsets.US_ASCII);
    }
}
