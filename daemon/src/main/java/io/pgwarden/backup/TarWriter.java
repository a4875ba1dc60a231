package io.pgwarden.backup;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes a ustar stream: directories and regular files, names up to 255 bytes (split over the name and prefix
 * fields); a size beyond the 8 GiB of 11 octal digits in base 256, as GNU tar, commons-compress and pg_basebackup do.
 */
final class TarWriter {
    static final int BLOCK = 512;
    static final long MAX_SIZE = 077777777777L;

    private final OutputStream out;
    private final int uid;
    private final int gid;
    private final byte[] zeros = new byte[BLOCK * 2];

    /** @param uid owner written into every entry (a data directory belongs to one user) */
    TarWriter(OutputStream out, int uid, int gid) {
        this.out = out;
        this.uid = uid;
        this.gid = gid;
    }

    void directory(String name, int mode, long mtime) throws IOException {
        out.write(header(name.endsWith("/") ? name : name + "/", mode, 0, mtime, '5'));
    }

    /** The header of a file whose {@code size} bytes the caller writes next, then {@link #pad}. */
    void fileHeader(String name, int mode, long size, long mtime) throws IOException {
        out.write(header(name, mode, size, mtime, '0'));
    }

    /** Zeros up to the next block after a file of {@code size} bytes. */
    void pad(long size) throws IOException {
        int rest = (int) (size % BLOCK);
        if (rest != 0) out.write(zeros, 0, BLOCK - rest);
    }

    void file(String name, int mode, byte[] content, long mtime) throws IOException {
        fileHeader(name, mode, content.length, mtime);
        out.write(content);
        pad(content.length);
    }

    /** The two zero blocks that end an archive. */
    void finish() throws IOException {
        out.write(zeros);
    }

    private byte[] header(String name, int mode, long size, long mtime, char type) throws IOException {
        byte[] h = new byte[BLOCK];
        byte[] full = name.getBytes(StandardCharsets.UTF_8);
        if (full.length <= 100) {
            System.arraycopy(full, 0, h, 0, full.length);
        } else {
            int split = -1;
            for (int i = Math.min(full.length - 1, 155); i > 0; i--) {
                if (full[i] == '/' && full.length - i - 1 <= 100 && full.length - i - 1 > 0) {
                    split = i;
                    break;
                }
            }
            if (split < 0) throw new IOException("'" + name + "' is too long for a tar entry");
            System.arraycopy(full, split + 1, h, 0, full.length - split - 1);
            System.arraycopy(full, 0, h, 345, split);
        }
        octal(h, 100, 8, mode & 07777);
        octal(h, 108, 8, uid);
        octal(h, 116, 8, gid);
        if (size <= MAX_SIZE) {
            octal(h, 124, 12, size);
        } else {
            h[124] = (byte) 0x80;
            for (int i = 0; i < 8; i++) h[135 - i] = (byte) (size >>> (8 * i));
        }
        octal(h, 136, 12, Math.max(0, mtime));
        h[156] = (byte) type;
        System.arraycopy("ustar\0".getBytes(StandardCharsets.US_ASCII), 0, h, 257, 6);
        h[263] = '0';
        h[264] = '0';
        for (int i = 148; i < 156; i++) h[i] = ' ';
        long sum = 0;
        for (byte b : h) sum += b & 0xff;
        octal(h, 148, 7, sum);
        return h;
    }

    /** {@code width - 1} octal digits and a NUL. */
    private static void octal(byte[] h, int offset, int width, long value) {
        String digits = Long.toOctalString(value);
        int pad = width - 1 - digits.length();
        for (int i = 0; i < pad; i++) h[offset + i] = '0';
        for (int i = 0; i < digits.length(); i++) h[offset + pad + i] = (byte) digits.charAt(i);
        h[offset + width - 1] = 0;
    }
}
