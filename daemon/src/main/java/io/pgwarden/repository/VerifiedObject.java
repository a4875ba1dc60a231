package io.pgwarden.repository;

import io.pgwarden.repository.codec.Compression;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.codec.ObjectCipher;
import io.pgwarden.repository.codec.HashingInputStream;
import io.pgwarden.storage.StorageDriver.StoredObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Optional;

/**
 * An encoded object opened for reading, decoded and checked against its recorded SHA-256 and raw size.
 * {@link #writeTo} holds back the last chunk until the checksum matched, so a reader that relies on a
 * complete transfer (curl with Content-Length, a file renamed into place) never receives corrupt data whole.
 */
public final class VerifiedObject implements AutoCloseable {
    private static final int CHUNK = 1 << 16;

    private final StoredObject object;
    private final Encoding encoding;
    private final Compression compression;
    private final Optional<Sealed> sealed;
    private final long rawSize;
    private final String sha256;

    VerifiedObject(StoredObject object, Encoding encoding, Compression compression, Optional<Sealed> sealed, long rawSize, String sha256) {
        this.object = object;
        this.encoding = encoding;
        this.compression = compression;
        this.sealed = sealed;
        this.rawSize = rawSize;
        this.sha256 = sha256;
    }

    /** The key it is encrypted with, if it is. */
    public Optional<Sealed> sealed() {
        return sealed;
    }

    public long storedSize() {
        return object.info().size();
    }

    public long rawSize() {
        return rawSize;
    }

    public String key() {
        return object.info().key();
    }

    /** Streams the decoded content; throws an integrity error, before the last bytes, on any mismatch. */
    public void writeTo(OutputStream out) throws IOException {
        HashingInputStream raw;
        try {
            raw = new HashingInputStream(encoding.decoder(key(), compression, sealed, object.content()));
        } catch (ObjectCipher.AuthenticationException e) {
            throw corrupt(e.getMessage());
        } catch (IOException e) {
            throw corrupt("cannot be decoded as " + compression.name().toLowerCase() + ": " + e.getMessage());
        }
        byte[] pending = new byte[CHUNK];
        byte[] next = new byte[CHUNK];
        int pendingLen = readChunk(raw, pending);
        while (true) {
            int nextLen = readChunk(raw, next);
            if (nextLen <= 0) break;
            out.write(pending, 0, pendingLen);
            byte[] t = pending;
            pending = next;
            next = t;
            pendingLen = nextLen;
        }
        if (raw.count() != rawSize) throw corrupt("decodes to " + raw.count() + " bytes, expected " + rawSize);
        String actual = raw.sha256Hex();
        if (!actual.equals(sha256)) throw corrupt("has SHA-256 " + actual + ", expected " + sha256);
        if (pendingLen > 0) out.write(pending, 0, pendingLen);
    }

    private int readChunk(InputStream in, byte[] buf) {
        try {
            int len = 0;
            while (len < buf.length) {
                int n = in.read(buf, len, buf.length - len);
                if (n < 0) break;
                len += n;
            }
            return len;
        } catch (ObjectCipher.AuthenticationException e) {
            throw corrupt(e.getMessage());
        } catch (com.github.luben.zstd.ZstdIOException | java.util.zip.ZipException | java.io.EOFException e) {
            throw corrupt("cannot be decoded: " + e.getMessage());
        } catch (IOException e) {
            throw PgwardenException.unavailable("reading repository object '" + key() + "' failed: " + e.getMessage(), e).forObject(key());
        }
    }

    private PgwardenException corrupt(String what) {
        return PgwardenException.integrity("repository object '" + key() + "' " + what).forObject(key());
    }

    @Override
    public void close() {
        object.close();
    }
}
