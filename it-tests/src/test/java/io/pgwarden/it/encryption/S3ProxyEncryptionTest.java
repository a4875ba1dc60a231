package io.pgwarden.it.encryption;

import io.pgwarden.it.support.S3Server;
import java.nio.file.Path;

class S3ProxyEncryptionTest extends EncryptionEndToEnd {
    S3Server s3;

    @Override
    String repositoryYaml(Path dir) throws Exception {
        s3 = new S3Server().start();
        s3.createBucket("crypt");
        return s3.repositoryYaml("crypt", "enc");
    }

    @Override
    void stopRepository() throws Exception {
        if (s3 != null) s3.close();
    }
}
