package io.pgwarden.it.retention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgwarden.config.ConfigLoader;
import io.pgwarden.daemon.Daemon;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.S3Server;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;

class S3ProxyPruneTest extends PruneEndToEnd {
    S3Server s3;

    @Override
    String repositoryYaml(Path dir) throws Exception {
        s3 = new S3Server().start();
        s3.createBucket("pg-backups");
        return s3.repositoryYaml("pg-backups", "prune");
    }

    @Override
    void leaveIncompleteUpload(String key) {
        String upload = s3.client().createMultipartUpload(b -> b.bucket("pg-backups").key("prune/" + key)).uploadId();
        s3.client().uploadPart(b -> b.bucket("pg-backups").key("prune/" + key).uploadId(upload).partNumber(1),
                software.amazon.awssdk.core.sync.RequestBody.fromBytes(new byte[1024]));
    }

    @Override
    void stopRepository() throws Exception {
        if (s3 != null) s3.close();
    }

    /** S3Proxy has no object lock: with objectLock configured the daemon must refuse to start, saying so. */
    @Test
    void objectLockOnABucketWithoutItIsAStartUpError() throws Exception {
        String yaml = s3.repositoryYaml("pg-backups", "lock").replace("    requestTimeout: 10s\n",
                "    requestTimeout: 10s\n    objectLock: {mode: GOVERNANCE, days: 30}\n");
        assertThat(yaml).contains("objectLock");
        Path config = PgwardenFixture.writeConfig(java.nio.file.Files.createDirectories(dir.resolve("lock")), "127.0.0.1:0", yaml, "", "");
        assertThatThrownBy(() -> Daemon.start(ConfigLoader.load(config), Clock.systemUTC()))
                .isInstanceOfSatisfying(PgwardenException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.CONFIG);
                    assertThat(e.getMessage()).startsWith("repository.s3.objectLock is set, but ").contains("lock")
                            .contains("create the bucket with Object Lock enabled or remove objectLock");
                });
    }
}
