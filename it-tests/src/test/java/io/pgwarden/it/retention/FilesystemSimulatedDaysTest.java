package io.pgwarden.it.retention;

import io.pgwarden.it.support.PgwardenFixture;
import java.nio.file.Path;

class FilesystemSimulatedDaysTest extends SimulatedDaysEndToEnd {
    @Override
    String repositoryYaml(Path dir) {
        return PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo"));
    }
}
