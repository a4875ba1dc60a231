package io.pgwarden.it.archive;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.MinIOContainer;
import org.testcontainers.utility.DockerImageName;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The same contract against MinIO (Testcontainers module) where a MinIO image exists locally; this machine kind
 * reaches no image registry, so without one the class reports itself skipped rather than pretending.
 */
class MinioWalArchivingTest extends WalArchivingEndToEnd {
    private static final String IMAGE = System.getProperty("pgwarden.minio.image", "minio/minio:latest");
    private MinIOContainer minio;

    @Override
    String repositoryYaml(Path dir) {
        assumeTrue(DockerClientFactory.instance().isDockerAvailable(), "no Docker engine: MinIO variant skipped");
        assumeTrue(imagePresent(), "no local MinIO image '" + IMAGE + "': MinIO variant skipped");
        minio = new MinIOContainer(DockerImageName.parse(IMAGE).asCompatibleSubstituteFor("minio/minio"));
        minio.start();
        try (S3Client s3 = S3Client.builder().endpointOverride(java.net.URI.create(minio.getS3URL())).region(Region.US_EAST_1)
                .forcePathStyle(true).credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(minio.getUserName(), minio.getPassword()))).build()) {
            s3.createBucket(b -> b.bucket("pg-backups"));
        }
        return """
                repository:
                  type: s3
                  s3: {endpoint: "%s", bucket: pg-backups, prefix: it, pathStyle: true, accessKey: %s, secretKey: %s}
                """.formatted(minio.getS3URL(), minio.getUserName(), minio.getPassword());
    }

    private static boolean imagePresent() {
        try {
            DockerClientFactory.instance().client().inspectImageCmd(IMAGE).exec();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    void stopRepository() {
        if (minio != null) minio.stop();
    }
}
