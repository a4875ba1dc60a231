package io.pgwarden.it.restore;

import io.pgwarden.it.support.PgwardenFixture;
import java.nio.file.Path;

class FilesystemPitrTest extends PitrEndToEnd {
    @Override
    String repositoryYaml(Path dir) {
        return PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo"));
    }
}
