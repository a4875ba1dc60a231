package io.pgwarden.repository.codec;

import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeyStatus;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.StreamingAead;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.streamingaead.AesGcmHkdfStreamingKey;
import com.google.crypto.tink.streamingaead.AesGcmHkdfStreamingParameters;
import com.google.crypto.tink.streamingaead.PredefinedStreamingAeadParameters;
import com.google.crypto.tink.streamingaead.StreamingAeadConfig;
import com.google.crypto.tink.subtle.AesGcmHkdfStreaming;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tink streaming AEAD (AES256_GCM_HKDF_1MB) over repository objects. Every object is encrypted under the keyset's
 * primary key with the object's repository key as associated data, so an object moved to another key (another
 * cluster's prefix, another backup, another WAL name) fails authentication instead of decrypting. Each 1 MiB
 * segment is authenticated before a byte of it is returned: nothing unauthenticated reaches a restore target.
 */
public final class ObjectCipher {
    public static final String ALGORITHM = "AES256_GCM_HKDF_1MB";
    private static final String AAD_PREFIX = "pgwarden-object-v1\0";

    static {
        try {
            StreamingAeadConfig.register();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Loading this class registers Tink's streaming AEAD; callers that only make keys call this first. */
    static void register() {
        // the static initializer did the work
    }

    private final int primaryKeyId;
    /** One primitive per enabled key: an object records the key id it was written with, and only that key may open it. */
    private final Map<Integer, StreamingAead> byKeyId;

    private ObjectCipher(int primaryKeyId, Map<Integer, StreamingAead> byKeyId) {
        this.primaryKeyId = primaryKeyId;
        this.byKeyId = byKeyId;
    }

    /** Thrown for a keyset that cannot be used; the message never contains key material. */
    public static final class KeysetException extends Exception {
        public KeysetException(String message) {
            super(message);
        }
    }

    /** Parses a Tink JSON keyset; every enabled key must be an AES256_GCM_HKDF_1MB streaming key. */
    public static ObjectCipher parse(String keysetJson) throws KeysetException {
        KeysetHandle handle;
        try {
            handle = TinkJsonProtoKeysetFormat.parseKeyset(keysetJson, InsecureSecretKeyAccess.get());
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new KeysetException("is not a Tink JSON keyset (" + e.getClass().getSimpleName() + ")");
        }
        Map<Integer, StreamingAead> byKeyId = new LinkedHashMap<>();
        Integer primary = null;
        for (int i = 0; i < handle.size(); i++) {
            KeysetHandle.Entry entry = handle.getAt(i);
            if (entry.getStatus() != KeyStatus.ENABLED) continue;
            if (!(entry.getKey().getParameters() instanceof AesGcmHkdfStreamingParameters p)
                    || !p.equals(PredefinedStreamingAeadParameters.AES256_GCM_HKDF_1MB)) {
                throw new KeysetException("key " + Integer.toUnsignedString(entry.getId()) + " is not an " + ALGORITHM
                        + " streaming key (make keysets with 'pgwarden keyset create')");
            }
            byKeyId.put(entry.getId(), primitive(entry));
            if (entry.isPrimary()) primary = entry.getId();
        }
        if (primary == null) throw new KeysetException("has no enabled primary key");
        return new ObjectCipher(primary, Map.copyOf(byKeyId));
    }

    /**
     * The key's own primitive, not the keyset's: the keyset wrapper tries every key and reports any failure, a reset
     * connection included, as "no matching key". Streaming AEAD ciphertexts carry no key prefix, so the bytes are
     * the same as the wrapper's (Tink tools can decrypt them).
     */
    private static StreamingAead primitive(KeysetHandle.Entry entry) throws KeysetException {
        try {
            return AesGcmHkdfStreaming.create((AesGcmHkdfStreamingKey) entry.getKey());
        } catch (GeneralSecurityException e) {
            throw new KeysetException("key " + Integer.toUnsignedString(entry.getId()) + " cannot be used: " + e.getMessage());
        }
    }

    /**
     * Runs the AES-GCM code path until the JIT has compiled it. Until then the JDK's GCM runs interpreted at about
     * 80 MB/s (measured here), compiled with the AES instructions at about 3 GB/s; the JIT counts calls, not bytes,
     * and a 1 MiB segment is one call, so real traffic alone takes hundreds of megabytes to get there. A throwaway
     * key with 4 KiB segments makes the same calls (Tink's segment encrypter and decrypter, the JDK's GCM with
     * buffers) thousands of times on 48 MiB: about a second of one core, once, in the background.
     */
    public static void warmUp() {
        try {
            StreamingAead throwaway = AesGcmHkdfStreaming.create((AesGcmHkdfStreamingKey) KeysetHandle.generateNew(
                    PredefinedStreamingAeadParameters.AES256_GCM_HKDF_4KB).getAt(0).getKey());
            byte[] chunk = new byte[64 << 10];
            for (int round = 0; round < 6; round++) {
                java.io.ByteArrayOutputStream sealed = new java.io.ByteArrayOutputStream(8 << 20);
                try (OutputStream out = throwaway.newEncryptingStream(sealed, new byte[0])) {
                    for (int i = 0; i < 128; i++) out.write(chunk);
                }
                try (InputStream in = throwaway.newDecryptingStream(new java.io.ByteArrayInputStream(sealed.toByteArray()), new byte[0])) {
                    in.transferTo(OutputStream.nullOutputStream());
                }
            }
        } catch (GeneralSecurityException | IOException | RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(ObjectCipher.class).debug("cipher warm-up failed (only the first objects are slower): {}", e.toString());
        }
    }

    public int primaryKeyId() {
        return primaryKeyId;
    }

    public List<Integer> keyIds() {
        return new ArrayList<>(byKeyId.keySet());
    }

    public boolean holds(int keyId) {
        return byKeyId.containsKey(keyId);
    }

    /** Encrypts what is written under the primary key; closing finishes the last segment and closes the sink. */
    public OutputStream encrypt(OutputStream sink, String objectKey) throws IOException {
        try {
            return byKeyId.get(primaryKeyId).newEncryptingStream(sink, aad(objectKey));
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot encrypt '" + objectKey + "': " + e.getMessage(), e);
        }
    }

    /**
     * Decrypts an object written under {@code keyId}. Reads fail with {@link AuthenticationException} when the bytes
     * were not written under that key for that object key; an I/O failure of the source stays a plain IOException.
     */
    public InputStream decrypt(InputStream source, String objectKey, int keyId) throws IOException {
        StreamingAead aead = byKeyId.get(keyId);
        if (aead == null) {
            throw new AuthenticationException("is encrypted with key " + Integer.toUnsignedString(keyId)
                    + ", which the configured keyset does not hold (it holds " + describeKeys() + ")");
        }
        try {
            return new Authenticating(aead.newDecryptingStream(new SourceMarking(source), aad(objectKey)));
        } catch (GeneralSecurityException e) {
            throw new AuthenticationException("cannot be decrypted: " + e.getMessage());
        }
    }

    public String describeKeys() {
        return byKeyId.keySet().stream().map(id -> Integer.toUnsignedString(id) + (id == primaryKeyId ? " (primary)" : ""))
                .reduce((a, b) -> a + ", " + b).orElse("none");
    }

    private static byte[] aad(String objectKey) {
        return (AAD_PREFIX + objectKey).getBytes(StandardCharsets.UTF_8);
    }

    /** The object is not what its key and key id say: wrong key, moved, truncated or altered. */
    public static final class AuthenticationException extends IOException {
        AuthenticationException(String message) {
            super(message);
        }
    }

    /** Wraps the source's own I/O failures so they can be told apart from authentication failures. */
    private static final class SourceFailure extends IOException {
        SourceFailure(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    private static final class SourceMarking extends FilterInputStream {
        SourceMarking(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return in.read();
            } catch (IOException e) {
                throw new SourceFailure(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return in.read(b, off, len);
            } catch (IOException e) {
                throw new SourceFailure(e);
            }
        }
    }

    /** Turns Tink's failures into AuthenticationException and gives the source's failures back unwrapped. */
    private static final class Authenticating extends FilterInputStream {
        Authenticating(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return in.read(b, off, len);
            } catch (IOException e) {
                throw translate(e);
            }
        }

        private static IOException translate(IOException e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof SourceFailure s) return (IOException) s.getCause();
            }
            return new AuthenticationException("failed authentication (wrong key, or not the object written under this key): "
                    + e.getMessage());
        }
    }
}
