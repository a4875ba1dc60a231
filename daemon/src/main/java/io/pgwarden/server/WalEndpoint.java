package io.pgwarden.server;

import io.pgwarden.archive.PushResult;
import io.pgwarden.archive.RequestSlots;
import io.pgwarden.archive.WalArchiver;
import io.pgwarden.archive.WalFetcher;
import io.pgwarden.archive.WalReadAhead;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.repository.VerifiedObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Locale;
import java.util.Optional;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code PUT|GET /v1/clusters/{cluster}/wal/{file}}: the archive_command / restore_command contract.
 * 201 stored, 200 identical duplicate, 409 different content or foreign system, 400 bad name/size/header,
 * 401 bad token, 413 too large, 503 repository unavailable; each error body is one line.
 */
public final class WalEndpoint {
    static final String PREFIX = "/v1/clusters/";
    private static final Logger log = LoggerFactory.getLogger(WalEndpoint.class);

    private final PgwardenConfig config;
    private final WalArchiver archiver;
    private final WalFetcher fetcher;
    private final WalReadAhead readAhead;
    private final Metrics metrics;
    private final RequestSlots slots;

    public WalEndpoint(PgwardenConfig config, WalArchiver archiver, WalFetcher fetcher, WalReadAhead readAhead, Metrics metrics,
                       RequestSlots slots) {
        this.readAhead = readAhead;
        this.config = config;
        this.archiver = archiver;
        this.fetcher = fetcher;
        this.metrics = metrics;
        this.slots = slots;
    }

    boolean handle(Request request, Response response, Callback callback, String path) {
        String[] parts = path.substring(PREFIX.length()).split("/", -1);
        if (parts.length != 3 || !parts[1].equals("wal")) {
            return Responses.text(response, callback, 404, "no such endpoint '" + path + "'");
        }
        String clusterName = parts[0];
        String file = parts[2];
        ClusterConfig cluster;
        try {
            cluster = BearerAuth.walCluster(request, config.clusters().values(), clusterName);
        } catch (PgwardenException e) {
            if (e.code() == ErrorCode.UNAUTHORIZED) {
                // Counted under a configured cluster's name only: the path is the caller's, and labels must stay few.
                if ("PUT".equals(request.getMethod()) && config.clusters().containsKey(clusterName)) metrics.walPushFailed(clusterName, "unauthorized");
                response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
                log.warn("refused {} {} for cluster '{}': {}", request.getMethod(), file, clusterName, e.getMessage());
            }
            closeIfBodyUnread(request, response, false);
            return Responses.error(response, callback, e);
        }
        return switch (request.getMethod()) {
            case "PUT" -> push(request, response, callback, cluster.name(), file);
            case "GET" -> fetch(response, callback, cluster.name(), file);
            default -> {
                response.getHeaders().put(HttpHeader.ALLOW, "GET, PUT");
                yield Responses.text(response, callback, 405, "method " + request.getMethod() + " is not allowed here (GET or PUT)");
            }
        };
    }

    private boolean push(Request request, Response response, Callback callback, String cluster, String file) {
        long start = System.nanoTime();
        // Not try-with-resources: the catch blocks below still read from the body (drain), so it closes last.
        ReadTracking body = new ReadTracking(Content.Source.asInputStream(request));
        try {
            PushResult result = archiver.push(cluster, file, body, request.getLength());
            long nanos = System.nanoTime() - start;
            if (result.outcome() == PushResult.Outcome.DUPLICATE) {
                metrics.walDuplicate(cluster, nanos);
                log.info("cluster '{}': {} was already archived with identical content", cluster, file);
                return Responses.text(response, callback, 200, "already archived with identical content: " + file);
            }
            metrics.walArchived(cluster, result.rawBytes(), result.storedBytes(), nanos);
            log.debug("cluster '{}': archived {} ({} bytes, {} stored) in {} ms", cluster, file, result.rawBytes(),
                    result.storedBytes(), nanos / 1_000_000);
            return Responses.text(response, callback, 201, "archived " + file);
        } catch (PgwardenException e) {
            metrics.walPushFailed(cluster, reason(e.code()));
            log.warn("cluster '{}': push of {} refused ({}): {}", cluster, file, e.code().httpStatus(), e.getMessage(),
                    e.code() == ErrorCode.INTERNAL ? e : null);
            // Once the body was asked for (100 Continue), read the rest before answering, so the client
            // sees this answer instead of a reset connection. Over the size limit, just close.
            boolean drained = body.started() && e.code() != ErrorCode.PAYLOAD_TOO_LARGE && body.drain(config.server().maxBodyBytes());
            closeIfBodyUnread(request, response, drained);
            return Responses.error(response, callback, e.inCluster(cluster));
        } catch (IOException e) {
            // The client went away, sent less than it announced, or stalled: nothing was stored.
            metrics.walPushFailed(cluster, "aborted");
            log.warn("cluster '{}': push of {} aborted while receiving the body: {}", cluster, file, e.toString());
            if (e.getCause() instanceof java.util.concurrent.TimeoutException && !response.isCommitted()) {
                closeIfBodyUnread(request, response, false);
                return Responses.text(response, callback, 408, "no byte of the body of " + file + " arrived for "
                        + config.server().bodyIdleTimeout().toMillis() + " ms (server.bodyIdleTimeout); nothing was stored");
            }
            callback.failed(e);
            return true;
        } catch (RuntimeException e) {
            metrics.walPushFailed(cluster, "internal");
            log.error("cluster '{}': push of {} failed unexpectedly", cluster, file, e);
            closeIfBodyUnread(request, response, false);
            return Responses.text(response, callback, 500, "internal error archiving " + file + ": " + e);
        } finally {
            body.closeQuietly();
        }
    }

    /** Holds a request slot throughout, as a push does: the repository may be slow to answer and the client to read. */
    private boolean fetch(Response response, Callback callback, String cluster, String file) {
        RequestSlots.Permit slot;
        try {
            slot = slots.acquire(cluster, "WAL file '" + file + "'");
        } catch (PgwardenException e) {
            return Responses.error(response, callback, e.inCluster(cluster));
        }
        try (slot) {
            return fetchInSlot(response, callback, cluster, file);
        }
    }

    private boolean fetchInSlot(Response response, Callback callback, String cluster, String file) {
        Optional<VerifiedObject> found;
        String source = "spool";
        try {
            // A file acknowledged but not yet uploaded is only in the spool; anything else is in the repository.
            found = fetcher.openSpooled(cluster, file);
            if (found.isEmpty()) {
                Optional<WalReadAhead.Prefetched> ready = readAhead.take(cluster, WalFileName.parse(file));
                if (ready.isPresent() && serveFetchedAhead(response, callback, cluster, ready.get())) return true;
                found = fetcher.open(cluster, file);
                source = "repository";
            }
        } catch (PgwardenException e) {
            log.warn("cluster '{}': fetch of {} failed: {}", cluster, file, e.getMessage());
            return Responses.error(response, callback, e.inCluster(cluster));
        }
        if (found.isEmpty()) {
            return Responses.text(response, callback, 404, "WAL file '" + file + "' is not in the repository of cluster '" + cluster + "'");
        }
        try (VerifiedObject object = found.get()) {
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/octet-stream");
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, object.rawSize());
            OutputStream out = Content.Sink.asOutputStream(response);
            object.writeTo(out);
            out.close();
            callback.succeeded();
            metrics.walFetched(cluster, source);
        } catch (IOException | RuntimeException e) {
            log.error("cluster '{}': fetch of {} failed: {}", cluster, file, e.getMessage());
            if (!response.isCommitted() && e instanceof PgwardenException p) {
                response.getHeaders().remove(HttpHeader.CONTENT_LENGTH);
                return Responses.error(response, callback, p.inCluster(cluster));
            }
            callback.failed(e); // already streaming: abort, so the client sees a short transfer, not a whole file
        }
        return true;
    }

    /**
     * Answers with a segment read ahead (already verified as it was written). False when its file cannot be opened:
     * then the repository serves it, since a failed restore_command would tell PostgreSQL the segment does not exist.
     */
    private boolean serveFetchedAhead(Response response, Callback callback, String cluster, WalReadAhead.Prefetched ready) {
        try (ready; java.io.InputStream in = java.nio.file.Files.newInputStream(ready.file())) {
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/octet-stream");
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, ready.size());
            try (OutputStream out = Content.Sink.asOutputStream(response)) {
                in.transferTo(out);
            }
            callback.succeeded();
            metrics.walFetched(cluster, "read-ahead");
            return true;
        } catch (java.nio.file.NoSuchFileException gone) {
            return false;
        } catch (IOException e) {
            if (response.isCommitted()) {
                callback.failed(e);
                return true;
            }
            return false;
        }
    }

    /** Remembers whether any of the body was read, and can discard the rest (bounded). */
    private static final class ReadTracking extends java.io.FilterInputStream {
        private boolean started;

        ReadTracking(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            started = true;
            return in.read();
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            started = true;
            return in.read(b, off, len);
        }

        boolean started() {
            return started;
        }

        void closeQuietly() {
            try {
                in.close();
            } catch (IOException ignored) {
                // the exchange is over either way
            }
        }

        /** Reads and discards the rest of the body, up to max bytes; true if it reached the end. */
        boolean drain(long max) {
            byte[] buf = new byte[64 << 10];
            long left = max;
            try {
                int n;
                while ((n = in.read(buf, 0, (int) Math.min(buf.length, Math.max(left, 1)))) > 0) {
                    left -= n;
                    if (left < 0) return false;
                }
                return n < 0;
            } catch (IOException clientGone) {
                return false;
            }
        }
    }

    /**
     * A refusal that leaves the request body unread ends the connection, and says so: otherwise a client may send
     * its next request on a connection the server is about to close.
     */
    private static void closeIfBodyUnread(Request request, Response response, boolean drained) {
        if (!drained && request.getLength() != 0) response.getHeaders().put(HttpHeader.CONNECTION, "close");
    }

    private static String reason(ErrorCode code) {
        return switch (code) {
            case REPOSITORY_UNAVAILABLE, STORAGE -> "unavailable";
            default -> code.name().toLowerCase(Locale.ROOT);
        };
    }
}
