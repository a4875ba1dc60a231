package io.pgwarden.server;

import io.pgwarden.config.ClusterConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;

/** Checks {@code Authorization: Bearer <token>} against the expected token in constant time. */
final class BearerAuth {
    private BearerAuth() {
    }

    /**
     * The cluster the request's WAL token opens, checked before the path's cluster is looked up: the answer to a
     * request without a valid token is the same whether the cluster exists or not, and never names one. Every
     * cluster's token is compared (in constant time), so timing does not tell which one was close either.
     */
    static ClusterConfig walCluster(Request request, java.util.Collection<ClusterConfig> clusters, String pathCluster) {
        byte[] given = bearer(request);
        ClusterConfig match = null;
        for (ClusterConfig cluster : clusters) {
            if (MessageDigest.isEqual(given, cluster.walToken().value().getBytes(StandardCharsets.UTF_8))) match = cluster;
        }
        if (match == null || !match.name().equals(pathCluster)) throw unauthorized("wrong token for this cluster");
        return match;
    }

    static void check(Request request, io.pgwarden.config.Secret token, String wrongTokenMessage) {
        byte[] given = bearer(request);
        byte[] expected = token.value().getBytes(StandardCharsets.UTF_8);
        // MessageDigest.isEqual does not stop at the first differing byte.
        if (!MessageDigest.isEqual(given, expected)) {
            throw unauthorized(wrongTokenMessage);
        }
    }

    private static byte[] bearer(Request request) {
        String header = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        if (header == null) throw unauthorized("missing Authorization: Bearer header");
        if (!header.regionMatches(true, 0, "Bearer ", 0, 7)) throw unauthorized("Authorization header is not a Bearer token");
        return header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    }

    private static PgwardenException unauthorized(String message) {
        return new PgwardenException(ErrorCode.UNAUTHORIZED, message);
    }
}
