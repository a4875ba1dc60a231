package io.pgwarden.server;

import io.pgwarden.error.ErrorReport;
import io.pgwarden.error.PgwardenException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/** Plain-text answers: every error body is one line saying why. */
final class Responses {
    private Responses() {
    }

    static boolean text(Response response, Callback callback, int status, String line) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
        Content.Sink.write(response, true, oneLine(line) + "\n", callback);
        return true;
    }

    /** An error: its message as the body, its code and context in Pgwarden-* headers ({@link ErrorReport}). */
    static boolean error(Response response, Callback callback, PgwardenException e) {
        return error(response, callback, e.code().httpStatus(), e);
    }

    static boolean error(Response response, Callback callback, int status, PgwardenException e) {
        ErrorReport.headers(e).forEach((name, value) -> response.getHeaders().put(name, value));
        return text(response, callback, status, e.getMessage());
    }

    /** A JSON document (admin API answers). */
    static boolean json(Response response, Callback callback, int status, Object body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        try {
            Content.Sink.write(response, true, io.pgwarden.repository.RepositoryJson.MAPPER.writeValueAsString(body) + "\n", callback);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return true;
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replace('\r', ' ').replace('\n', ' ');
    }
}
