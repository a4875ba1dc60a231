package io.pgwarden.it.retention;

import io.pgwarden.it.support.PgwardenFixture;
import java.nio.file.Path;

class FilesystemPruneTest extends PruneEndToEnd {
    @Override
    String repositoryYaml(Path dir) {
        return PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo"));
    }

    /** The temp file a writer that died mid-put leaves (FilesystemStorage names them .NAME.tmp-UUID). */
    @Override
    void leaveIncompleteUpload(String key) throws Exception {
        Path target = dir.resolve("repo").resolve(key);
        java.nio.file.Files.createDirectories(target.getParent());
        java.nio.file.Files.write(target.resolveSibling("." + target.getFileName() + ".tmp-" + java.util.UUID.randomUUID()), new byte[1024]);
    }
}
