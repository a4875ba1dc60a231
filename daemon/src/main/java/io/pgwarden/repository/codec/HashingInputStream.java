package io.pgwarden.repository.codec;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Counts and SHA-256-hashes the bytes read through it: the raw size and checksum every object records. */
public final class HashingInputStream extends FilterInputStream {
    private final MessageDigest digest = sha256();
    private long count;

    public HashingInputStream(InputStream in) {
        super(in);
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
            digest.update((byte) b);
            count++;
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
            digest.update(b, off, n);
            count += n;
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        // Skipping would leave bytes out of the hash: read them instead.
        byte[] buf = new byte[(int) Math.min(Math.max(n, 0), 8192)];
        return Math.max(0, read(buf, 0, buf.length));
    }

    public long count() {
        return count;
    }

    /** The hex SHA-256 of everything read; call once, at the end. */
    public String sha256Hex() {
        return HexFormat.of().formatHex(digest.digest());
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
