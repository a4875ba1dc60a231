package io.pgwarden.server;

import io.pgwarden.jobs.JobEngine;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.restore.RestoreJobs;
import io.pgwarden.error.PgwardenException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Dispatches on the raw (undecoded) path, so an encoded '/' or '..' can never route a request elsewhere:
 * {@code /health}, {@code /ready}, {@code /metrics}, {@code /v1/clusters/{cluster}/wal/{file}}, and the admin API
 * ({@code /v1/clusters/{cluster}/backups}, {@code /v1/clusters/{cluster}/runs/{id}}).
 */
public final class Routes extends Handler.Abstract {
    private final WalEndpoint wal;
    private final AdminEndpoint admin;
    private final Metrics metrics;
    private final ReadinessProbe readiness;
    private final PgwardenConfig config;

    public Routes(WalEndpoint wal, PgwardenConfig config, JobEngine jobs, RestoreJobs restores, Metrics metrics, ReadinessProbe readiness) {
        this.wal = wal;
        this.admin = new AdminEndpoint(config, jobs, restores);
        this.metrics = metrics;
        this.readiness = readiness;
        this.config = config;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        String path = request.getHttpURI().getPath();
        switch (path) {
            case "/health":
                return Responses.text(response, callback, 200, "ok");
            case "/ready":
                return ready(request, response, callback);
            case "/metrics":
                response.setStatus(200);
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
                Content.Sink.write(response, true, metrics.scrape(), callback);
                return true;
            default:
                if (path.startsWith(WalEndpoint.PREFIX)) {
                    String[] parts = path.substring(WalEndpoint.PREFIX.length()).split("/", -1);
                    if (parts.length >= 2 && !parts[1].equals("wal")) return admin.handle(request, response, callback, parts);
                    return wal.handle(request, response, callback, path);
                }
                return Responses.text(response, callback, 404, "no such endpoint '" + path + "'");
        }
    }

    /** Ready or not for anyone (load balancers, orchestrators); why not only with the admin token (the log has it too). */
    private boolean ready(Request request, Response response, Callback callback) {
        boolean ready = readiness.ready();
        String answer = ready ? "ready" : "not ready";
        if (!ready && config.server().adminToken().isPresent()) {
            try {
                BearerAuth.check(request, config.server().adminToken().get(), "wrong admin token");
                answer = readiness.detail();
            } catch (PgwardenException unauthenticated) {
                // the short answer
            }
        }
        return Responses.text(response, callback, ready ? 200 : 503, answer);
    }
}
