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
 * An encoded object opened for reading, decoded and checked against its recorded raw size and SHA-256: of its raw
 * content, or of the object as stored (base backups and dumps written since stored digests: hashing the compressed
 * bytes costs a fraction of hashing the raw ones, and the codec's own checksum checks the decoding: zstd's content
 * checksum, gzip's CRC-32). {@link #writeTo} holds back the last chunk until the checksum matched, so a reader that
 * relies on a complete transfer (curl with Content-Length, a file renamed into place) never receives corrupt data whole.
 */
public final class VerifiedObject implements AutoCloseable {
    private static final int CHUNK = 1 << 16;

    private final StoredObject object;
    private final Encoding encoding;
    private final Compression compression;
    private final Optional<Sealed> sealed;
    private final long rawSize;
    /** Of the raw content; null when {@link #storedSha256} is checked instead. */
    private final String sha256;
    /** Of the object as stored; null for objects that record the raw content's. */
    private final String storedSha256;

    VerifiedObject(StoredObject object, Encoding encoding, Compression compression, Optional<Sealed> sealed, long rawSize, String sha256) {
        this(object, encoding, compression, sealed, rawSize, sha256, null);
    }

    VerifiedObject(StoredObject object, Encoding encoding, Compression compression, Optional<Sealed> sealed, long rawSize, String sha256,
                   String storedSha256) {
        if (sha256 == null && storedSha256 == null) {
            object.close();
            throw PgwardenException.integrity("repository object '" + object.info().key() + "' has no recorded SHA-256 to check it against")
                    .forObject(object.info().key());
        }
        this.object = object;
        this.encoding = encoding;
        this.compression = compression;
        this.sealed = sealed;
        this.rawSize = rawSize;
        this.sha256 = sha256;
        this.storedSha256 = storedSha256;
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
        HashingInputStream stored = storedSha256 == null ? null : new HashingInputStream(object.content());
        InputStream decoded;
        try {
            // The object's stream stays open for close() (which also ends an unread S3 response): closing the decoder
            // only frees its native state.
            decoded = encoding.decoder(key(), compression, sealed, new KeptOpen(stored == null ? object.content() : stored));
        } catch (ObjectCipher.AuthenticationException e) {
            throw corrupt(e.getMessage());
        } catch (IOException e) {
            throw corrupt("cannot be decoded as " + compression.name().toLowerCase() + ": " + e.getMessage());
        }
        try {
            verifyInto(decoded, stored, out);
        } finally {
            // Not left to the GC: zstd-jni frees a decoder's native context (a MiB or so) only on close or
            // finalization, and decoders that outlive a young collection pile up until a full one.
            try {
                decoded.close();
            } catch (IOException e) {
                // what was read has been verified; nothing else is held
            }
        }
    }

    private void verifyInto(InputStream decoded, HashingInputStream stored, OutputStream out) throws IOException {
        HashingInputStream raw = sha256 == null ? HashingInputStream.countingOnly(decoded) : new HashingInputStream(decoded);
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
        if (sha256 != null) {
            String actual = raw.sha256Hex();
            if (!actual.equals(sha256)) throw corrupt("has SHA-256 " + actual + ", expected " + sha256);
        }
        if (stored != null) {
            while (readChunk(stored, next) > 0) {
                // bytes stored after the end of the encoding, if any: hashed too, so that they fail the check
            }
            String actual = stored.sha256Hex();
            if (!actual.equals(storedSha256)) throw corrupt("as stored has SHA-256 " + actual + ", expected " + storedSha256);
        }
        if (pendingLen > 0) out.write(pending, 0, pendingLen);
    }

    /** A stream whose close() leaves the one beneath open. */
    private static final class KeptOpen extends java.io.FilterInputStream {
        KeptOpen(InputStream in) {
            super(in);
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            return in.read(b, off, len);
        }

        @Override
        public void close() {
            // the object's stream is VerifiedObject.close()'s to end
        }
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
