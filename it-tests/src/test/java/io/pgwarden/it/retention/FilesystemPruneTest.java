package io.pgwarden.it.retention;

import io.pgwarden.it.support.PgwardenFixture;
import java.nio.file.Path;

class FilesystemPruneTest extends PruneEndToEnd {
    @Override
    String repositoryYaml(Path dir) {
        return PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo"));
    }
}
