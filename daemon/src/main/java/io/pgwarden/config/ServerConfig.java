package io.pgwarden.config;

import java.nio.file.Path;
import java.util.Optional;

/**
 * @param maxBodyBytes largest WAL file the endpoint accepts (PostgreSQL's largest segment is 1 GiB)
 * @param spoolDir     where a compressed WAL file too large for memory is spooled before upload
 * @param maxConcurrentPushes WAL pushes processed at once; more wait, so memory stays bounded
 * @param maxConcurrentPushesPerCluster of those, what one cluster may hold; empty: {@link #pushesPerCluster}'s default
 * @param adminToken   bearer token of the admin API (/v1/clusters/{c}/backups ...); absent: the admin API is off
 * @param instance     this daemon's name on its sidecars (label io.pgwarden.instance): stable across restarts, so
 *                     a restarted daemon finds and removes the sidecars a crash left behind
 * @param bodyIdleTimeout a request (a push's body) that sends no byte for this long is aborted, its slot freed
 * @param maxConnections  open HTTP connections at most; more wait in the kernel's accept queue
 * @param tls          HTTPS on the endpoint; empty: plain HTTP, which a non-loopback address needs allowPlaintext for
 * @param walSpoolDir  where clusters with archive.durability: spool keep acknowledged WAL until it is uploaded: local
 *                     persistent disk (not a tmpfs, not a private /tmp), one subdirectory per cluster
 * @param walReadAhead segments after a requested one that a WAL GET fetches ahead into the spool directory (0: off)
 */
public record ServerConfig(String host, int port, long maxBodyBytes, Path spoolDir, int maxConcurrentPushes,
                           Optional<Secret> adminToken, String instance, java.time.Duration bodyIdleTimeout, int maxConnections,
                           Optional<TlsConfig> tls, int walReadAhead, Optional<Path> walSpoolDir,
                           java.util.OptionalInt maxConcurrentPushesPerCluster) {
    public static final int DEFAULT_WAL_READ_AHEAD = 8;
    public static final java.time.Duration DEFAULT_BODY_IDLE_TIMEOUT = java.time.Duration.ofSeconds(30);
    public static final int DEFAULT_MAX_CONNECTIONS = 1000;
    public static final int DEFAULT_MAX_CONCURRENT_PUSHES = 8;
    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8420;
    public static final long DEFAULT_MAX_BODY = 1L << 30;

    /**
     * What one cluster's WAL requests may hold of {@code maxConcurrentPushes}: as configured, else all of it for a
     * daemon of one cluster, and half (rounded up) when clusters share the daemon, so a flood from one leaves the
     * others their turn (PostgreSQL's archiver pushes one file at a time: a healthy cluster needs one slot).
     */
    public int pushesPerCluster(int clusters) {
        if (maxConcurrentPushesPerCluster.isPresent()) return Math.min(maxConcurrentPushesPerCluster.getAsInt(), maxConcurrentPushes);
        return clusters > 1 ? Math.max(1, (maxConcurrentPushes + 1) / 2) : maxConcurrentPushes;
    }

    /** Where a process on this host reaches the daemon: {@code http(s)://host:port}, a wildcard listen as loopback. */
    public String localBaseUrl() {
        String h = switch (host) {
            case "0.0.0.0", "::", "" -> "127.0.0.1";
            default -> host;
        };
        return (tls.isPresent() ? "https" : "http") + "://" + (h.contains(":") ? "[" + h + "]" : h) + ":" + port;
    }
}
