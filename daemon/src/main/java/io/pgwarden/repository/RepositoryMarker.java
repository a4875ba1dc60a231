package io.pgwarden.repository;

import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.codec.ObjectCipher;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * {@code repository.json} at the repository's root: that the repository is encrypted, with which algorithm and which
 * key ids (no secret). Read at every start, so a daemon or command without the keyset, or with a keyset holding none
 * of the repository's keys, refuses before it reads or writes an object; and switching encryption off on an encrypted
 * repository is refused. A repository written in clear has no marker until encryption is switched on.
 */
public final class RepositoryMarker {
    public static final String KEY = "repository.json";
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(RepositoryMarker.class);

    /** The document. */
    public record Document(int formatVersion, Encryption encryption) {
    }

    /** @param keyIds every key id objects may have been written with (unsigned, as Tink prints them) */
    public record Encryption(String algorithm, List<String> keyIds) {
    }

    /** Whether the caller writes to the repository (then it records the encryption and new key ids). */
    public enum Access { READ, WRITE }

    private RepositoryMarker() {
    }

    /** Opens the configured repository and checks it against the configured encryption; closes it again on refusal. */
    public static StorageDriver open(RepositoryConfig config, Access access) {
        return open(config, access, io.pgwarden.storage.StagingDir.temporary());
    }

    /** @param staging where the large parts of very large uploads go (a CLI backup: server.spoolDir) */
    public static StorageDriver open(RepositoryConfig config, Access access, io.pgwarden.storage.StagingDir staging) {
        Encoding encoding = Encoding.of(config);
        StorageDriver storage = StorageFactory.create(config, io.pgwarden.storage.ChunkPool.forRepository(config), staging);
        try {
            check(storage, encoding, access);
            return storage;
        } catch (RuntimeException e) {
            storage.close();
            throw e;
        }
    }

    public static void check(StorageDriver storage, Encoding encoding, Access access) {
        Optional<Document> marker = read(storage);
        Optional<Encryption> recorded = marker.map(Document::encryption);
        Optional<ObjectCipher> cipher = encoding.cipher();
        if (recorded.isPresent() && cipher.isEmpty()) {
            throw new PgwardenException(ErrorCode.CONFIG, storage.describe() + " is encrypted (" + recorded.get().algorithm() + ", key ids "
                    + String.join(", ", recorded.get().keyIds()) + ") but repository.encryption is not configured; HINT: set"
                    + " repository.encryption.keyset to the keyset it was written with (a repository cannot go back to clear)");
        }
        if (cipher.isEmpty()) return;
        List<String> held = cipher.get().keyIds().stream().map(Integer::toUnsignedString).toList();
        if (recorded.isPresent()) {
            List<String> known = recorded.get().keyIds();
            if (known.stream().noneMatch(held::contains)) {
                throw new PgwardenException(ErrorCode.CONFIG, "the configured keyset (keys " + String.join(", ", held) + ") holds none of the keys "
                        + storage.describe() + " is encrypted with (" + String.join(", ", known) + "); HINT: configure the keyset it was written with");
            }
            List<String> missing = known.stream().filter(k -> !held.contains(k)).toList();
            if (!missing.isEmpty()) {
                log.warn("the configured keyset does not hold keys {} that {} recorded: objects written with them cannot be read"
                        + " (pgwarden verify counts them)", missing, storage.describe());
            }
        }
        String primary = Integer.toUnsignedString(cipher.get().primaryKeyId());
        if (access == Access.WRITE && (recorded.isEmpty() || !recorded.get().keyIds().contains(primary))) {
            record(storage, recorded, primary);
        }
    }

    private static void record(StorageDriver storage, Optional<Encryption> recorded, String primary) {
        TreeSet<String> ids = new TreeSet<>(recorded.map(Encryption::keyIds).orElse(List.of()));
        ids.add(primary);
        Document doc = new Document(1, new Encryption(ObjectCipher.ALGORITHM, new ArrayList<>(ids)));
        if (recorded.isEmpty()) {
            // A create: when another daemon recorded first, its marker stays and the next start adds this key.
            byte[] json = bytes(doc);
            if (storage.create(KEY, StorageDriver.SizedContent.of(json), Map.of())) {
                log.info("{} is now encrypted ({}, key {}); objects written before stay readable", storage.describe(), ObjectCipher.ALGORITHM, primary);
            }
            return;
        }
        RepositoryJson.write(storage, KEY, doc);
        log.info("{}: new primary key {} recorded (keys {})", storage.describe(), primary, ids);
    }

    public static Optional<Document> read(StorageDriver storage) {
        Optional<StorageDriver.StoredObject> object = storage.get(KEY);
        if (object.isEmpty()) return Optional.empty();
        try (var o = object.get()) {
            Document doc = RepositoryJson.MAPPER.readValue(o.content(), Document.class);
            if (doc.encryption() != null && (doc.encryption().algorithm() == null || doc.encryption().keyIds() == null
                    || doc.encryption().keyIds().isEmpty())) {
                throw new IOException("its encryption names no algorithm or no key ids");
            }
            return Optional.of(doc);
        } catch (IOException e) {
            throw PgwardenException.integrity("repository object '" + KEY + "' is not a valid repository description: " + e.getMessage()).forObject(KEY);
        }
    }

    private static byte[] bytes(Document doc) {
        try {
            return RepositoryJson.MAPPER.writeValueAsBytes(doc);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
