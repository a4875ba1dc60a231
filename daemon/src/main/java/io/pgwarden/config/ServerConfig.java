package io.pgwarden.config;

import java.nio.file.Path;

/**
 * @param maxBodyBytes largest WAL file the endpoint accepts (PostgreSQL's largest segment is 1 GiB)
 * @param spoolDir     where a compressed WAL file too large for memory is spooled before upload
 * @param maxConcurrentPushes WAL pushes processed at once; more wait, so memory stays bounded
 */
public record ServerConfig(String host, int port, long maxBodyBytes, Path spoolDir, int maxConcurrentPushes) {
    public static final int DEFAULT_MAX_CONCURRENT_PUSHES = 8;
    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8420;
    public static final long DEFAULT_MAX_BODY = 1L << 30;
}
