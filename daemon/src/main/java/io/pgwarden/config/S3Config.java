package io.pgwarden.config;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

/**
 * An S3-compatible bucket. Without accessKey/secretKey the SDK's default credential chain applies.
 * @param partSize multipart part size, also the largest object of unknown length sent in a single PUT
 * @param objectLock when set, every object is written with a retain-until date that many days ahead
 * @param downloadStreams ranges of a backup or dump fetched at once when it is read whole (1: one GET)
 */
public record S3Config(Optional<URI> endpoint, String bucket, String prefix, String region, boolean pathStyle,
                       Optional<Secret> accessKey, Optional<Secret> secretKey, int maxAttempts, long partSize,
                       Duration requestTimeout, Optional<ObjectLock> objectLock, Optional<java.nio.file.Path> caCertificate,
                       int downloadStreams) {
    /** S3 Object Lock retention for every object pgwarden writes. */
    public record ObjectLock(Mode mode, int days) {
        public enum Mode { GOVERNANCE, COMPLIANCE }

        public Duration period() {
            return Duration.ofDays(days);
        }
    }

    public static final long MIN_PART_SIZE = 5L << 20;
    public static final long DEFAULT_PART_SIZE = 8L << 20;
    public static final int DEFAULT_DOWNLOAD_STREAMS = 4;
}
