package io.pgwarden.it.retention;

import io.pgwarden.it.support.S3Server;
import java.nio.file.Path;

class S3ProxySimulatedDaysTest extends SimulatedDaysEndToEnd {
    S3Server s3;

    @Override
    String repositoryYaml(Path dir) throws Exception {
        s3 = new S3Server().start();
        s3.createBucket("pg-backups");
        return s3.repositoryYaml("pg-backups", "days");
    }

    @Override
    void stopRepository() throws Exception {
        if (s3 != null) s3.close();
    }
}
