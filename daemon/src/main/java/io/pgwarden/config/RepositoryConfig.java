package io.pgwarden.config;

import io.pgwarden.repository.codec.Compression;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where backups and WAL live, and how objects are encoded.
 * @param garbageGrace how old objects without a committed manifest, and writes never completed, must be before garbage
 *                     collection removes them; longer than any backup takes, or it could remove one being written
 * @param encryption   the keyset new objects are encrypted with; empty: objects are written in clear
 */
public record RepositoryConfig(Type type, Optional<Path> path, Optional<S3Config> s3, Compression compression, int compressionLevel,
                               java.time.Duration garbageGrace, Optional<EncryptionConfig> encryption) {
    public static final java.time.Duration DEFAULT_GARBAGE_GRACE = java.time.Duration.ofHours(24);
    public static final java.time.Duration MIN_GARBAGE_GRACE = java.time.Duration.ofHours(1);

    public enum Type { FILESYSTEM, S3 }
}
