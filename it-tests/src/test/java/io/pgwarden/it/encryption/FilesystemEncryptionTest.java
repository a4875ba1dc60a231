package io.pgwarden.it.encryption;

import java.nio.file.Path;

/** Uncompressed, so that every byte not shown in clear is the cipher's doing, not zstd's. */
class FilesystemEncryptionTest extends EncryptionEndToEnd {
    @Override
    String repositoryYaml(Path dir) {
        return """
                repository:
                  type: filesystem
                  path: %s
                  compression: none
                """.formatted(dir.resolve("repo"));
    }
}
