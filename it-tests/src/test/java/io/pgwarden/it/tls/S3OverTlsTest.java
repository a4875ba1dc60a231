package io.pgwarden.it.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.it.support.Certificates;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** A self-hosted S3 server behind a private CA (S3Proxy over HTTPS): trusted through repository.s3.caCertificate only. */
class S3OverTlsTest {
    private static final byte[] HISTORY = "1\t0/5000000\tno recovery target specified\n".getBytes(StandardCharsets.UTF_8);

    @Test
    void aPrivateCaIsTrustedThroughCaCertificateAndOnlyThrough() throws Exception {
        Path dir = TestDirs.create("pgwarden-s3tls-");
        try (S3Server s3 = new S3Server()) {
            Certificates.Ca ca = s3.startBehindPrivateCa(dir, "storage-ca");
            s3.createBucketInStore("private");
            String repository = s3.repositoryYaml("private", "tls");
            assertThat(repository).contains("endpoint: \"https://127.0.0.1:");

            Path trusting = Files.createDirectories(dir.resolve("trusting"));
            try (PgwardenFixture pgwarden = PgwardenFixture.start(trusting, s3.repositoryYaml("private", "tls", ca.certificate()), "")) {
                var stored = pgwarden.put("00000002.history", HISTORY);
                assertThat(stored.statusCode()).as(stored.body()).isEqualTo(201);
                assertThat(pgwarden.get("00000002.history").body()).isEqualTo(HISTORY);
            }

            // The JVM's default trust does not know the private CA: the repository is unavailable, nothing is stored.
            Path untrusting = Files.createDirectories(dir.resolve("untrusting"));
            try (PgwardenFixture pgwarden = PgwardenFixture.start(untrusting, repository, "")) {
                var refused = pgwarden.put("00000003.history", HISTORY);
                assertThat(refused.statusCode()).isEqualTo(503);
                assertThat(refused.body()).contains("PKIX");
            }
        } finally {
            TestDirs.delete(dir);
        }
    }
}
