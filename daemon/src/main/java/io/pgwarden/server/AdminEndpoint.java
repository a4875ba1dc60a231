package io.pgwarden.server;

import io.pgwarden.jobs.JobEngine;
import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.Secret;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.restore.RestoreJobs;
import org.eclipse.jetty.io.Content;
import java.util.Optional;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;

/**
 * The admin API, authenticated with {@code server.adminToken}:
 * <ul>
 * <li>{@code POST /v1/clusters/{cluster}/backups?kind=base|dump[&database=D]} → 202 with the run's state (409 if one
 * of that kind is running)</li>
 * <li>{@code POST /v1/clusters/{cluster}/restore-tests} → 202, a test restore now (409 if one is running)</li>
 * <li>{@code POST /v1/clusters/{cluster}/restores} (JSON options as on the command line) → 202 with the restore's status, after
 * planning (a refusal answers the request); {@code GET /v1/clusters/{cluster}/restores/{id}} → state, progress, result</li>
 * <li>{@code GET /v1/clusters/{cluster}/runs/{id}} → 200 with the run's state: running, succeeded or failed</li>
 * </ul>
 * Without an admin token in the config the API is off (404 saying so).
 */
final class AdminEndpoint {
    private final PgwardenConfig config;
    private final JobEngine jobs;
    private final RestoreJobs restores;

    AdminEndpoint(PgwardenConfig config, JobEngine jobs, RestoreJobs restores) {
        this.config = config;
        this.jobs = jobs;
        this.restores = restores;
    }

    /** @param parts the path after /v1/clusters/, split on '/' */
    boolean handle(Request request, Response response, Callback callback, String[] parts) {
        try {
            Secret token = config.server().adminToken().orElseThrow(() -> PgwardenException.notFound(
                    "the admin API is off: set server.adminToken in the configuration to enable it"));
            BearerAuth.check(request, token, "wrong admin token");
            String cluster = config.cluster(parts[0]).name();
            if (parts.length == 2 && parts[1].equals("backups")) {
                requireMethod(request, response, "POST");
                return Responses.json(response, callback, 202, jobs.start(backupRequest(request, cluster)));
            }
            if (parts.length == 2 && parts[1].equals("restore-tests")) {
                requireMethod(request, response, "POST");
                return Responses.json(response, callback, 202, jobs.start(new JobRequest(cluster, JobKind.RESTORE_TEST,
                        Optional.empty(), "api")));
            }
            if (parts.length == 2 && parts[1].equals("restores")) {
                requireMethod(request, response, "POST");
                return Responses.json(response, callback, 202, restores.start(cluster, restoreBody(request).toRequest()));
            }
            if (parts.length == 3 && parts[1].equals("restores")) {
                requireMethod(request, response, "GET");
                return Responses.json(response, callback, 200, restores.status(cluster, parts[2]).orElseThrow(() -> PgwardenException.notFound(
                        "cluster '" + cluster + "' has no restore '" + parts[2] + "' on this daemon (kept in memory until it restarts)"
                        + (config.scheduler().shared() ? "; a restore belongs to the daemon that took the request, whose host holds"
                        + " its directory: ask that daemon" : ""))));
            }
            if (parts.length == 3 && parts[1].equals("runs")) {
                requireMethod(request, response, "GET");
                return Responses.json(response, callback, 200, jobs.status(cluster, parts[2]).orElseThrow(() -> PgwardenException.notFound(
                        "cluster '" + cluster + "' has no run '" + parts[2] + "'" + (config.scheduler().shared()
                        ? " in the scheduler store (finished runs are kept 30 days)" : " (runs are kept in memory until the daemon restarts)"))));
            }
            return Responses.text(response, callback, 404, "no such endpoint '" + request.getHttpURI().getPath() + "'");
        } catch (PgwardenException e) {
            if (e.code() == ErrorCode.UNAUTHORIZED) response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
            int status = e.code() == ErrorCode.USAGE && e.getMessage().startsWith("method") ? 405 : e.code().httpStatus();
            return Responses.error(response, callback, status, e);
        }
    }

    private static JobRequest backupRequest(Request request, String cluster) {
        Fields query = Request.extractQueryParameters(request);
        String kind = query.getValue("kind");
        if (kind == null) throw PgwardenException.badRequest("query parameter 'kind' is required (base or dump)");
        for (String name : query.getNames()) {
            if (!name.equals("kind") && !name.equals("database")) {
                throw PgwardenException.badRequest("unknown query parameter '" + name + "' (allowed: kind, database)");
            }
        }
        JobKind k = JobKind.parseBackup(kind);
        Optional<String> database = Optional.ofNullable(query.getValue("database")).filter(d -> !d.isEmpty());
        if (database.isPresent() && k != JobKind.DUMP) throw PgwardenException.badRequest("'database' applies to kind=dump only");
        return new JobRequest(cluster, k, database, "api");
    }

    private static RestoreRequestBody restoreBody(Request request) {
        try {
            String body = Content.Source.asString(request, java.nio.charset.StandardCharsets.UTF_8);
            if (body.length() > 65536) throw PgwardenException.badRequest("the request body is larger than 64 KiB");
            return io.pgwarden.repository.RepositoryJson.MAPPER.readValue(body, RestoreRequestBody.class); // unknown fields fail
        } catch (com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException e) {
            throw PgwardenException.badRequest("unknown field '" + e.getPropertyName() + "' (allowed: targetTime, targetLsn, targetName, latest,"
                    + " targetDir, backup, targetTimeline, targetAction)");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw PgwardenException.badRequest("the body is not a JSON object of restore options: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw PgwardenException.badRequest("cannot read the request body: " + e.getMessage());
        }
    }

    private static void requireMethod(Request request, Response response, String method) {
        if (!request.getMethod().equals(method)) {
            response.getHeaders().put(HttpHeader.ALLOW, method);
            throw new PgwardenException(ErrorCode.USAGE, "method " + request.getMethod() + " is not allowed here (" + method + ")");
        }
    }
}
