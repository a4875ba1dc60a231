package io.pgwarden.it.support;

import io.pgwarden.config.ConfigLoader;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.daemon.Daemon;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.stream.Stream;

/** A pgwarden daemon in this JVM, started from a real config file, plus the commands PostgreSQL uses to reach it. */
public final class PgwardenFixture implements AutoCloseable {
    public static final String CLUSTER = "main";
    public static final String TOKEN = "it-token-0123456789abcdef";
    public static final String ADMIN_TOKEN = "it-admin-token-0123456789";

    private final Path dir;
    private final Path configFile;
    private final PgwardenConfig config;
    private final Daemon daemon;
    private final HttpClient http;

    private PgwardenFixture(Path dir, Path configFile, PgwardenConfig config, Daemon daemon) {
        this.dir = dir;
        this.configFile = configFile;
        this.config = config;
        this.daemon = daemon;
        // With server.tls, the test's client trusts the daemon's certificate file (no client certificate).
        this.http = config.server().tls().map(t -> HttpClient.newBuilder().sslContext(Certificates.trusting(t.certificate())).build())
                .orElseGet(HttpClient::newHttpClient);
    }

    /** Writes pgwarden.yml (listen on a free loopback port) with the given repository section and starts the daemon. */
    public static PgwardenFixture start(Path dir, String repositoryYaml, String serverExtraYaml) throws Exception {
        return start(dir, repositoryYaml, serverExtraYaml, "");
    }

    /** As above, with more keys for cluster 'main' (e.g. connection, runner). */
    public static PgwardenFixture start(Path dir, String repositoryYaml, String serverExtraYaml, String clusterExtraYaml) throws Exception {
        return start(dir, "127.0.0.1:" + TestDirs.freePort(), repositoryYaml, serverExtraYaml, clusterExtraYaml);
    }

    /** @param listen HOST:PORT, e.g. 0.0.0.0:PORT for a daemon that containers reach through host.docker.internal */
    public static PgwardenFixture start(Path dir, String listen, String repositoryYaml, String serverExtraYaml, String clusterExtraYaml)
            throws Exception {
        return startWithConfig(dir, writeConfig(dir, listen, repositoryYaml, serverExtraYaml, clusterExtraYaml));
    }

    public static Path writeConfig(Path dir, String listen, String repositoryYaml, String serverExtraYaml, String clusterExtraYaml)
            throws IOException {
        Path configFile = dir.resolve("pgwarden.yml");
        Files.writeString(configFile, """
                server:
                  listen: %s
                  adminToken: %s
                %s
                %s
                clusters:
                  main:
                    walToken: "${file:%s}"
                %s
                """.formatted(listen, ADMIN_TOKEN, serverExtraYaml.indent(2).stripTrailing(), repositoryYaml, tokenFile(dir),
                clusterExtraYaml.indent(4).stripTrailing()));
        return configFile;
    }

    /**
     * pgwarden.yml for one cluster whose server runs in {@code pg}: tools in sidecars of the server's major on the host's
     * network, a filesystem repository under dir/repo, listening on every address (the server's archive_command pushes
     * through host.docker.internal), the cluster's token {@link #TOKEN}.
     */
    public static Path writeContainerClusterConfig(Path dir, int port, String instance, String cluster, PgContainer pg, String password)
            throws IOException {
        Path config = dir.resolve("pgwarden.yml");
        Files.writeString(config, """
                server:
                  listen: 0.0.0.0:%d
                  adminToken: %s
                  instance: %s
                  allowPlaintext: true
                %s
                clusters:
                  %s:
                    walToken: %s
                    connection: {host: 127.0.0.1, port: %d, user: postgres, password: "%s"}
                    runner: {type: docker, image: "local/postgres:{major}", network: host, pull: never}
                """.formatted(port, ADMIN_TOKEN, instance, filesystemRepositoryYaml(dir.resolve("repo")), cluster, TOKEN, pg.port(), password));
        return config;
    }

    /** Starts a daemon from an existing config file (its cluster 'main' must use TOKEN). */
    public static PgwardenFixture startWithConfig(Path dir, Path configFile) throws Exception {
        return startWithConfig(dir, configFile, Clock.systemUTC());
    }

    /** A daemon that reads time from clock (e.g. a {@link ShiftedClock} for simulated days). */
    public static PgwardenFixture startWithConfig(Path dir, Path configFile, Clock clock) throws Exception {
        Files.writeString(dir.resolve("auth-header"), "Authorization: Bearer " + TOKEN + "\n");
        PgwardenConfig config = ConfigLoader.load(configFile);
        return new PgwardenFixture(dir, configFile, config, Daemon.start(config, clock));
    }

    /**
     * A daemon with a filesystem repository under dir/repo and a connection to {@code source}, which is then started
     * archiving to it. @param clusterExtraYaml more keys for cluster 'main' (runner, restoreTest, ...)
     */
    public static PgwardenFixture archiving(Path dir, PgCluster source, String serverExtraYaml, String clusterExtraYaml) throws Exception {
        PgwardenFixture f = start(dir, filesystemRepositoryYaml(dir.resolve("repo")), serverExtraYaml,
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres}\n" + clusterExtraYaml);
        source.configure("archive_mode = on", "archive_command = '" + f.archiveCommand() + "'").start();
        return f;
    }

    /** A base backup now, through the daemon's jobs; fails the test unless it succeeds. Returns its id. */
    public String baseBackup() {
        var run = daemon.jobs().run(new io.pgwarden.jobs.JobRequest(CLUSTER, io.pgwarden.jobs.JobKind.BASE,
                java.util.Optional.empty(), "test"));
        org.assertj.core.api.Assertions.assertThat(run.state()).as(String.valueOf(run.error())).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        return run.id();
    }

    public static String filesystemRepositoryYaml(Path repo) {
        return """
                repository:
                  type: filesystem
                  path: %s
                """.formatted(repo);
    }

    private static Path tokenFile(Path dir) throws IOException {
        Path f = dir.resolve("main.token");
        Files.writeString(f, TOKEN + "\n");
        return f;
    }

    public PgwardenConfig config() {
        return config;
    }

    public Path configFile() {
        return configFile;
    }

    public Daemon daemon() {
        return daemon;
    }

    public String baseUrl() {
        return (config.server().tls().isPresent() ? "https" : "http") + "://127.0.0.1:" + daemon.port();
    }

    public URI walUrl(String file) {
        return URI.create(baseUrl() + "/v1/clusters/" + CLUSTER + "/wal/" + file);
    }

    public String archiveCommand() {
        return archiveCommandWithHeaderFile(dir, daemon.port());
    }

    /** archive_command for a daemon that will listen on 127.0.0.1:port (PostgreSQL retries until it does). */
    public static String archiveCommandWithHeaderFile(Path dir, int port) {
        try {
            Files.writeString(dir.resolve("auth-header"), "Authorization: Bearer " + TOKEN + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return "curl --fail -sS -H @" + dir.resolve("auth-header") + " -T %p http://127.0.0.1:" + port + "/v1/clusters/main/wal/%f";
    }

    /** archive_command for a PostgreSQL in a container on this host (the token inline: the container has no header file). */
    public String archiveCommandFromContainer() {
        return archiveCommandFromContainer(daemon.port());
    }

    public static String archiveCommandFromContainer(int port) {
        return "curl --fail -sS -H \"Authorization: Bearer " + TOKEN + "\" -T %p http://host.docker.internal:" + port
                + "/v1/clusters/main/wal/%f";
    }

    /** An admin API call with the admin token. */
    public HttpResponse<String> admin(String method, String path) throws IOException, InterruptedException {
        return admin(method, path, null);
    }

    /** An admin API call with a JSON body (null: none). */
    public HttpResponse<String> admin(String method, String path, String json) throws IOException, InterruptedException {
        var body = json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json);
        return http.send(HttpRequest.newBuilder(URI.create(baseUrl() + path)).header("Authorization", "Bearer " + ADMIN_TOKEN)
                .header("Content-Type", "application/json").method(method, body).build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * POSTs an admin request that starts something (a backup, a test restore, a restore), expects 202, and polls
     * {@code statusPath} + the answer's id until its state is no longer "running"; returns that last status.
     * @param statusPath e.g. /v1/clusters/main/runs/ (runs) or /v1/clusters/main/restores/
     */
    public com.fasterxml.jackson.databind.JsonNode startAndAwait(String startPath, String json, String statusPath, java.time.Duration atMost)
            throws Exception {
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        HttpResponse<String> started = admin("POST", startPath, json);
        org.assertj.core.api.Assertions.assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
        String id = mapper.readTree(started.body()).get("id").asText();
        com.fasterxml.jackson.databind.JsonNode[] status = new com.fasterxml.jackson.databind.JsonNode[1];
        org.awaitility.Awaitility.await().atMost(atMost).pollInterval(java.time.Duration.ofMillis(200)).until(() -> {
            status[0] = mapper.readTree(admin("GET", statusPath + id).body());
            return !status[0].get("state").asText().equals("running");
        });
        return status[0];
    }

    public String restoreCommand() {
        return "curl --fail -sS -H @" + dir.resolve("auth-header") + " -o %p " + baseUrl() + "/v1/clusters/main/wal/%f";
    }

    public HttpResponse<byte[]> get(String file) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(walUrl(file)).header("Authorization", "Bearer " + TOKEN).GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    public HttpResponse<String> put(String file, byte[] body) throws IOException, InterruptedException {
        return put(file, body, TOKEN);
    }

    public HttpResponse<String> put(String file, byte[] body, String token) throws IOException, InterruptedException {
        // Like curl -T for bodies over 1 MiB: ask first, so a refusal arrives before the body is sent.
        var req = HttpRequest.newBuilder(walUrl(file)).expectContinue(true).PUT(HttpRequest.BodyPublishers.ofByteArray(body));
        if (token != null) req.header("Authorization", "Bearer " + token);
        return http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> getText(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(baseUrl() + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The value of one series in /metrics, e.g. {@code pgwarden_wal_archived_total{cluster="main"}}; 0 if absent. */
    public double metric(String series) throws IOException, InterruptedException {
        return seriesValue(getText("/metrics").body(), series);
    }

    /** The value of one series in a Prometheus text scrape (any daemon's); 0 if absent. */
    public static double seriesValue(String scrape, String series) {
        return scrape.lines().filter(l -> l.startsWith(series + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(series.length() + 1))).findFirst().orElse(0);
    }

    /** Every object key in the repository, read through a fresh driver. */
    public List<String> repositoryKeys() {
        return repositoryKeys("");
    }

    /** The object keys under prefix, in key order, read through a fresh driver. */
    public List<String> repositoryKeys(String prefix) {
        try (StorageDriver storage = StorageFactory.create(config.repository()); Stream<StorageDriver.ObjectInfo> all = storage.list(prefix)) {
            return all.map(StorageDriver.ObjectInfo::key).sorted().toList();
        }
    }

    /** Runs bin/pgwarden {@code command} with this daemon's config and cluster 'main', then {@code args}. */
    public Processes.Result cli(String command, String... args) {
        List<String> all = new java.util.ArrayList<>(List.of(command, "--config", configFile.toString(), "--cluster", "main"));
        all.addAll(List.of(args));
        return Launcher.run(all.toArray(String[]::new));
    }

    public List<String> walKeys() {
        return repositoryKeys().stream().filter(k -> k.startsWith(CLUSTER + "/wal/")).toList();
    }

    @Override
    public void close() {
        daemon.close();
    }

    public static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
