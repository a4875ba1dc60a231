package io.pgwarden.storage;

import io.pgwarden.config.RepositoryConfig;

/** Builds the driver the repository config names. */
public final class StorageFactory {
    private StorageFactory() {
    }

    /** With upload buffers of its own: for a process that has no other uploads (a CLI command, a test). */
    public static StorageDriver create(RepositoryConfig config) {
        return create(config, ChunkPool.forRepository(config));
    }

    /** @param buffers the process's upload memory, shared with the WAL pushes' spill buffers */
    public static StorageDriver create(RepositoryConfig config, ChunkPool buffers) {
        return create(config, buffers, StagingDir.temporary());
    }

    /**
     * @param buffers the process's upload memory, shared with the WAL pushes' spill buffers
     * @param staging where the parts of objects beyond the first 900 parts are staged on disk
     */
    public static StorageDriver create(RepositoryConfig config, ChunkPool buffers, StagingDir staging) {
        return switch (config.type()) {
            case FILESYSTEM -> new FilesystemStorage(config.path().orElseThrow());
            case S3 -> new S3Storage(config.s3().orElseThrow(), buffers, staging, PartSizes.of(config.s3().orElseThrow().partSize()));
        };
    }
}
