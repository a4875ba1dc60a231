package io.pgwarden.it.archive;

import io.pgwarden.it.support.PgwardenFixture;
import java.nio.file.Path;

class FilesystemWalArchivingTest extends WalArchivingEndToEnd {
    @Override
    String repositoryYaml(Path dir) {
        return PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo"));
    }
}
