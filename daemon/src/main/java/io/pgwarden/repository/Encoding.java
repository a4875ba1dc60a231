package io.pgwarden.repository;

import io.pgwarden.config.EncryptionConfig;
import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.repository.codec.Compression;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.codec.Codecs;
import io.pgwarden.repository.codec.ObjectCipher;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * How data objects are encoded: compressed, then (with a keyset) encrypted under the primary key with the object's
 * key as associated data. Reading follows what the object records (its codec and, if encrypted, its key id), so a
 * repository written before encryption was switched on stays readable.
 */
public final class Encoding {
    static final String META_CODEC = "codec";
    static final String META_ENCRYPTION = "encryption";
    static final String META_KEY_ID = "key-id";

    private final Compression compression;
    private final int level;
    private final Optional<ObjectCipher> cipher;

    private Encoding(Compression compression, int level, Optional<ObjectCipher> cipher) {
        this.compression = compression;
        this.level = level;
        this.cipher = cipher;
    }

    /** @throws PgwardenException (CONFIG) when the configured keyset cannot be used */
    public static Encoding of(RepositoryConfig config) {
        return new Encoding(config.compression(), config.compressionLevel(), config.encryption().map(Encoding::cipher));
    }

    static ObjectCipher cipher(EncryptionConfig encryption) {
        try {
            return ObjectCipher.parse(encryption.keyset().value());
        } catch (ObjectCipher.KeysetException e) {
            throw new PgwardenException(ErrorCode.CONFIG, "repository.encryption.keyset " + e.getMessage());
        }
    }

    /**
     * With a keyset, compiles the cipher's code path in the background (see {@link ObjectCipher#warmUp}): for the
     * daemon and the long commands, not for one-file commands such as wal-fetch, where it would cost more than it saves.
     */
    public Encoding warmUpInBackground() {
        if (cipher.isPresent()) Thread.ofPlatform().daemon().name("cipher-warm-up").start(ObjectCipher::warmUp);
        return this;
    }

    public Compression compression() {
        return compression;
    }

    public Optional<ObjectCipher> cipher() {
        return cipher;
    }

    /** How an object written now is recorded: in a manifest, or (WAL) in the object's metadata. */
    public Optional<Sealed> sealing() {
        return cipher.map(c -> new Sealed(ObjectCipher.ALGORITHM, Integer.toUnsignedLong(c.primaryKeyId())));
    }

    /** Compress (with {@code workers} zstd threads) then encrypt into {@code sink}; closing finishes both and closes the sink. */
    public OutputStream encoder(String objectKey, OutputStream sink, int workers) throws IOException {
        OutputStream encrypted = cipher.isPresent() ? cipher.get().encrypt(sink, objectKey) : sink;
        return Codecs.compress(compression, level, workers, encrypted);
    }

    /**
     * For bytes already compressed with this encoding's codec (PostgreSQL compressed them): encrypt only, into
     * {@code sink}; closing finishes and closes the sink.
     */
    public OutputStream sealer(String objectKey, OutputStream sink) throws IOException {
        return cipher.isPresent() ? cipher.get().encrypt(sink, objectKey) : sink;
    }

    /** The object metadata that records the encoding of an object written now. */
    public Map<String, String> metadata() {
        Map<String, String> meta = new HashMap<>();
        meta.put(META_CODEC, compression.name().toLowerCase());
        sealing().ifPresent(s -> {
            meta.put(META_ENCRYPTION, s.algorithm());
            meta.put(META_KEY_ID, Long.toString(s.keyId()));
        });
        return meta;
    }

    /** What an object's metadata says about its encryption; an object without it was written in clear. */
    static Optional<Sealed> sealingOf(String objectKey, Map<String, String> metadata) {
        String algorithm = metadata.get(META_ENCRYPTION);
        if (algorithm == null) return Optional.empty();
        String keyId = metadata.get(META_KEY_ID);
        try {
            return Optional.of(new Sealed(algorithm, Long.parseLong(keyId)));
        } catch (NumberFormatException e) {
            throw PgwardenException.integrity("repository object '" + objectKey + "' has an invalid key-id '" + keyId + "'").forObject(objectKey);
        }
    }

    /** The raw content of an object stored with {@code codec} and {@code sealed}; authentication failures surface on read. */
    InputStream decoder(String objectKey, Compression codec, Optional<Sealed> sealed, InputStream stored) throws IOException {
        InputStream decrypted = stored;
        if (sealed.isPresent()) {
            Sealed s = sealed.get();
            if (!ObjectCipher.ALGORITHM.equals(s.algorithm())) {
                throw PgwardenException.integrity("repository object '" + objectKey + "' is encrypted with '" + s.algorithm()
                        + "', which pgwarden does not know").forObject(objectKey);
            }
            if (cipher.isEmpty()) {
                throw new PgwardenException(ErrorCode.CONFIG, "repository object '" + objectKey + "' is encrypted (key " + s.keyId()
                        + ") but repository.encryption is not configured");
            }
            decrypted = cipher.get().decrypt(stored, objectKey, (int) s.keyId());
        }
        return Codecs.decompress(codec, decrypted);
    }
}
