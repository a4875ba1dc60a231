package io.pgwarden.repository.codec;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Counts and SHA-256-hashes the bytes read through it: the sizes and checksums every object records. */
public final class HashingInputStream extends FilterInputStream {
    /** Null: counting only. */
    private final MessageDigest digest;
    private long count;

    public HashingInputStream(InputStream in) {
        this(in, sha256());
    }

    private HashingInputStream(InputStream in, MessageDigest digest) {
        super(in);
        this.digest = digest;
    }

    /** Counts without hashing (SHA-256 costs about 0.7 s of CPU per GB: not paid where nothing checks it). */
    public static HashingInputStream countingOnly(InputStream in) {
        return new HashingInputStream(in, null);
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
            if (digest != null) digest.update((byte) b);
            count++;
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
            if (digest != null) digest.update(b, off, n);
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
        if (digest == null) throw new IllegalStateException("a counting-only stream has no SHA-256");
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
