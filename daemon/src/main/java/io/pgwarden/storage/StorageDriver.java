package io.pgwarden.storage;

import java.io.InputStream;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Object storage as pgwarden needs it; knows nothing of PostgreSQL. Keys are relative, '/'-separated.
 * Failures are {@link io.pgwarden.error.PgwardenException}s with code REPOSITORY_UNAVAILABLE (retry later)
 * or STORAGE (the store refused), naming the key.
 */
public interface StorageDriver extends AutoCloseable {

    /**
     * Streams content of unknown length to key. The object becomes visible only once it is complete and durable;
     * a failed or interrupted write leaves nothing visible. Replaces an existing object.
     */
    void put(String key, InputStream content, Map<String, String> metadata);

    /**
     * Stores content whose length is known and which can be read again (for retries), e.g. a spooled WAL file.
     * Same visibility guarantees as {@link #put(String, InputStream, Map)}; no extra copy is made.
     */
    void put(String key, SizedContent content, Map<String, String> metadata);

    /**
     * Stores content at key only if no object is there: true when written, false when an object already existed
     * (nothing was written). Two writers racing for one key cannot both get true where the store can decide it
     * atomically (S3 conditional writes with If-None-Match, a filesystem's lock and no-replace rename).
     */
    boolean create(String key, SizedContent content, Map<String, String> metadata);

    /** Content of known length that can be opened more than once. */
    interface SizedContent {
        long length();

        InputStream open() throws java.io.IOException;

        /** Small content already in memory (a JSON document). */
        static SizedContent of(byte[] bytes) {
            return new SizedContent() {
                @Override
                public long length() {
                    return bytes.length;
                }

                @Override
                public InputStream open() {
                    return new java.io.ByteArrayInputStream(bytes);
                }
            };
        }
    }

    /** Size and metadata, or empty if there is no such object. */
    Optional<ObjectInfo> stat(String key);

    /** The object's content as a stream (caller closes), or empty if there is no such object. */
    Optional<StoredObject> get(String key);

    /**
     * As {@link #get(String)}, for a large object read whole, front to back (a backup or dump being restored): a store
     * that can serve ranges fetches several at once ahead of the reader, since one GET carries what one connection
     * does. The content is the same byte for byte.
     */
    default Optional<StoredObject> getWhole(String key) {
        return get(key);
    }

    /** Objects under prefix, lazily, in key order. Metadata is not filled in. The stream must be closed. */
    Stream<ObjectInfo> list(String prefix);

    /**
     * As {@link #list(String)}, only the keys after {@code startAfter} (S3's StartAfter): a reader of one stretch of a
     * large prefix (the WAL a restore needs) starts there instead of listing all that comes before it.
     */
    default Stream<ObjectInfo> list(String prefix, String startAfter) {
        return list(prefix).filter(o -> o.key().compareTo(startAfter) > 0);
    }

    /** Deletes the object if it exists. */
    void delete(String key);

    /** Deletes each object that exists; one request per batch where the store has one (S3 DeleteObjects). */
    default void deleteAll(java.util.List<String> keys) {
        for (String key : keys) delete(key);
    }

    /**
     * Writes that began under prefix and never completed or were never cleaned up: S3 multipart uploads neither
     * completed nor aborted, a filesystem repository's temp files of a writer that died. Lazily; the stream must be closed.
     */
    default Stream<IncompleteUpload> incompleteUploads(String prefix) {
        return Stream.empty();
    }

    /** Discards an incomplete upload (abort the multipart upload, delete the temp file); gone already is fine. */
    default void abort(IncompleteUpload upload) {
    }

    /** @param id the store's name for it (S3 upload id, temp file name); @param initiated when the write began */
    record IncompleteUpload(String key, String id, java.time.Instant initiated) {
    }

    /** Throws if the store cannot be reached or used. */
    void checkReachable();

    /**
     * Makes the repository ready before a daemon writes to it: a filesystem repository creates its directory, S3
     * checks the bucket's object lock. Throws (CONFIG) only what can never work as configured; a repository that is
     * merely unreachable now is left to the first write.
     */
    default void prepare() {
    }

    /** A short description for logs and errors, e.g. {@code s3://bucket/prefix}. */
    String describe();

    @Override
    void close();

    /** @param lastModified when the object was written (S3 LastModified, file mtime) */
    record ObjectInfo(String key, long size, Map<String, String> metadata, java.time.Instant lastModified) {
    }

    /** An open object: info plus its content stream. */
    record StoredObject(ObjectInfo info, InputStream content) implements AutoCloseable {
        @Override
        public void close() {
            try {
                content.close();
            } catch (java.io.IOException ignored) {
                // closing a read stream: nothing to lose
            }
        }
    }
}
