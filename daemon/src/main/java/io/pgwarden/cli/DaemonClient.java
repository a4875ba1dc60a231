package io.pgwarden.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRun;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.Secret;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.RepositoryJson;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;

/** The command line's way into a running daemon: its admin API at server.listen, with server.adminToken. */
final class DaemonClient {
    private final HttpClient http;
    private final URI base;
    private final Secret token;

    private DaemonClient(URI base, Secret token, Optional<io.pgwarden.config.TlsConfig> tls) {
        this.base = base;
        this.token = token;
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3));
        tls.ifPresent(t -> builder.sslContext(trusting(t.certificate())));
        this.http = builder.build();
    }

    /** With TLS, the daemon's own certificate file is what this client trusts (it runs on the same host). */
    private static javax.net.ssl.SSLContext trusting(java.nio.file.Path certificate) {
        try {
            return io.pgwarden.tls.PemFiles.clientContext(certificate);
        } catch (io.pgwarden.tls.PemFiles.PemException e) {
            throw new io.pgwarden.error.PgwardenException(io.pgwarden.error.ErrorCode.CONFIG, "server.tls: " + e.getMessage());
        }
    }

    /** A client when a daemon answers at server.listen and the admin API is configured; empty (standalone) otherwise. */
    static Optional<DaemonClient> ifRunning(PgwardenConfig config, PrintWriter err) {
        URI base = URI.create(config.server().localBaseUrl());
        if (config.server().adminToken().isEmpty()) {
            err.println("pgwarden: no server.adminToken in the configuration: running standalone (a daemon's scheduled run may overlap)");
            err.flush();
            return Optional.empty();
        }
        DaemonClient client = new DaemonClient(base, config.server().adminToken().get(), config.server().tls());
        if (!client.isUp()) return Optional.empty();
        err.println("pgwarden: running through the daemon at " + base);
        err.flush();
        return Optional.of(client);
    }

    private boolean isUp() {
        try {
            return http.send(HttpRequest.newBuilder(base.resolve("/health")).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (ConnectException | java.net.http.HttpConnectTimeoutException e) {
            return false;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Starts the run, then follows it until it has finished. */
    JobRun backup(String cluster, JobKind kind, Optional<String> database) {
        String query = "kind=" + kind.label() + database.map(d -> "&database=" + URLEncoder.encode(d, StandardCharsets.UTF_8)).orElse("");
        String clusterPath = "/v1/clusters/" + URLEncoder.encode(cluster, StandardCharsets.UTF_8);
        JobRun state = send(HttpRequest.newBuilder(base.resolve(clusterPath + "/backups?" + query))
                .POST(HttpRequest.BodyPublishers.noBody()), 202);
        while (!state.finished()) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new PgwardenException(ErrorCode.INTERNAL, "interrupted while waiting for run " + state.id() + " (it goes on in the daemon)");
            }
            state = send(HttpRequest.newBuilder(base.resolve(clusterPath + "/runs/" + state.id())).GET(), 200);
        }
        return state;
    }

    private JobRun send(HttpRequest.Builder request, int expected) {
        HttpResponse<String> response;
        try {
            response = http.send(request.header("Authorization", "Bearer " + token.value()).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw PgwardenException.unavailable("the daemon at " + base + " did not answer: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PgwardenException(ErrorCode.INTERNAL, "interrupted while talking to the daemon at " + base, e);
        }
        if (response.statusCode() != expected) {
            ErrorCode code = switch (response.statusCode()) {
                case 409 -> ErrorCode.BUSY;
                case 404 -> ErrorCode.NOT_FOUND;
                case 400 -> ErrorCode.USAGE;
                case 401, 403 -> ErrorCode.UNAUTHORIZED;
                default -> ErrorCode.INTERNAL;
            };
            throw new PgwardenException(code, "the daemon at " + base + " answered " + response.statusCode() + ": " + response.body().trim());
        }
        try {
            return RepositoryJson.MAPPER.readValue(response.body(), JobRun.class);
        } catch (JsonProcessingException e) {
            throw new PgwardenException(ErrorCode.INTERNAL, "the daemon at " + base + " answered something unreadable: " + e.getOriginalMessage());
        }
    }
}
