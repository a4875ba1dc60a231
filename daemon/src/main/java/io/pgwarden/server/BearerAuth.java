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

    static void check(Request request, ClusterConfig cluster) {
        check(request, cluster.walToken(), "wrong token for cluster '" + cluster.name() + "'");
    }

    static void check(Request request, io.pgwarden.config.Secret token, String wrongTokenMessage) {
        String header = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        if (header == null) throw unauthorized("missing Authorization: Bearer header");
        if (!header.regionMatches(true, 0, "Bearer ", 0, 7)) throw unauthorized("Authorization header is not a Bearer token");
        byte[] given = header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        byte[] expected = token.value().getBytes(StandardCharsets.UTF_8);
        // MessageDigest.isEqual does not stop at the first differing byte.
        if (!MessageDigest.isEqual(given, expected)) {
            throw unauthorized(wrongTokenMessage);
        }
    }

    private static PgwardenException unauthorized(String message) {
        return new PgwardenException(ErrorCode.UNAUTHORIZED, message);
    }
}
