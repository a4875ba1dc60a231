package io.pgwarden.config;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

/**
 * An S3-compatible bucket. Without accessKey/secretKey the SDK's default credential chain applies.
 * @param partSize multipart part size, also the largest object sent in a single PUT
 */
public record S3Config(Optional<URI> endpoint, String bucket, String prefix, String region, boolean pathStyle,
                       Optional<Secret> accessKey, Optional<Secret> secretKey, int maxAttempts, long partSize,
                       Duration requestTimeout) {
    public static final long MIN_PART_SIZE = 5L << 20;
    public static final long DEFAULT_PART_SIZE = 16L << 20;
}
