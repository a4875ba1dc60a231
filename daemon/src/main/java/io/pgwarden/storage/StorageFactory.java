package io.pgwarden.storage;

import io.pgwarden.config.RepositoryConfig;

/** Builds the driver the repository config names. */
public final class StorageFactory {
    private StorageFactory() {
    }

    public static StorageDriver create(RepositoryConfig config) {
        return switch (config.type()) {
            case FILESYSTEM -> new FilesystemStorage(config.path().orElseThrow());
            case S3 -> new S3Storage(config.s3().orElseThrow());
        };
    }
}
