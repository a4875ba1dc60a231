package io.pgwarden.it.ops;

import static io.pgwarden.it.support.PgContainer.docker;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.pgwarden.it.support.Certificates;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgContainer;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.Psql;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The sidecar deployment of config/compose.yaml, run with the docker CLI (no compose plugin and no registry here):
 * the image built from daemon/Dockerfile on a locally built JRE base, PostgreSQL 15 in a container whose
 * archive_command is the compose file's, pgwarden in a container with the compose file's environment, secrets and
 * config/pgwarden-container.yml, its tool sidecars started through the mounted Docker socket, S3 (S3Proxy on the
 * host: the MinIO image cannot be pulled here). WAL is archived, the schedule takes a base backup and a dump in
 * sidecars, and a restore to a timestamp, run inside the pgwarden container, starts a server with exactly the rows
 * committed before it.
 */
class ContainerDeploymentTest {
    static final String IMAGE = "local/pgwarden:it";
    static final String BASE_IMAGE = System.getProperty("pgwarden.jre.image", "local/pgwarden-jre");
    static final String PASSWORD = "container-pg-password-42";
    static final String WAL_TOKEN = "container-wal-token-0123456789";
    static final String ADMIN_TOKEN = "container-admin-token-0123456789";
    HttpClient http;

    final String id = UUID.randomUUID().toString().substring(0, 8);
    final String network = "pgw-it-net-" + id;
    final String name = "pgw-it-pgwarden-" + id;
    final Path repo = Launcher.home().getParent().getParent().getParent();
    Path dir;
    S3Server s3;
    PgContainer postgres;
    List<String> restored = new ArrayList<>();

    @AfterEach
    void cleanUp() throws Exception {
        if (dir != null) System.out.println("pgwarden container log:\n" + containerLog());
        Processes.run(List.of("docker", "rm", "-f", "-v", name), null); // -v: the image's anonymous /var/lib/pgwarden volume
        Processes.run(List.of("docker", "volume", "rm", "-f", "pgwarden-stream"), null);
        for (String container : PgContainer.containersLabelled("io.pgwarden.instance=pgwarden-sidecar")) {
            Processes.run(List.of("docker", "rm", "-f", "-v", container), null);
        }
        for (int i = 0; i + 1 < restored.size(); i += 2) {
            Processes.run(List.of("docker", "rm", "-f", restored.get(i)), null);
            Processes.run(List.of("docker", "volume", "rm", "-f", restored.get(i + 1)), null);
        }
        if (postgres != null) postgres.close();
        Processes.run(List.of("docker", "network", "rm", network), null);
        if (s3 != null) s3.close();
        if (dir != null) TestDirs.delete(dir);
    }

    @Test
    void sidecarDeploymentArchivesBacksUpOnScheduleAndRestoresToATimestamp() throws Exception {
        assumeTrue(PgContainer.imagePresent(), "no local image " + PgContainer.IMAGE + " (it-tests/images/build-images.sh builds it)");
        assumeTrue(Processes.run(List.of("docker", "image", "inspect", BASE_IMAGE), null).exitCode() == 0,
                "no local image " + BASE_IMAGE + " (it-tests/images/build-images.sh builds it)");
        docker("build", "-q", "--build-arg", "BASE_IMAGE=" + BASE_IMAGE, "-t", IMAGE, "-f", repo.resolve("daemon/Dockerfile").toString(),
                repo.resolve("daemon").toString());
        JsonNode compose = new YAMLMapper().readTree(repo.resolve("config/compose.yaml").toFile());
        dir = TestDirs.create("pgwarden-container-");
        Path secrets = secrets(dir.resolve("secrets"));
        docker("network", "create", network);
        s3 = new S3Server().startForContainers();
        s3.createBucket("pg-backups");

        // PostgreSQL as the compose file runs it: its archive_command, its header file, on the network as "postgres".
        String archiveCommand = null;
        for (JsonNode arg : compose.at("/services/postgres/command")) {
            if (arg.asText().startsWith("archive_command=")) archiveCommand = arg.asText().substring("archive_command=".length());
        }
        assertThat(archiveCommand).startsWith("pgwarden-wal-push ").contains("--url https://pgwarden:8420/v1/clusters/main/wal/")
                .contains("--cacert /run/secrets/pgwarden_ca").contains("--header /run/secrets/pgwarden_wal_header");
        // The compose file's build copies the script from the distribution's sources onto the image's PATH: mounted there.
        assertThat(compose.at("/services/postgres/build/additional_contexts/pgwarden-bin").asText()).isEqualTo("../daemon/src/dist/bin");
        assertThat(compose.at("/services/postgres/build/dockerfile_inline").asText())
                .contains("COPY --from=pgwarden-bin --chmod=0755 pgwarden-wal-push /usr/local/bin/pgwarden-wal-push");
        List<String> postgresArgs = new ArrayList<>(List.of("--network", network, "--network-alias", "postgres",
                "-v", repo.resolve("daemon/src/dist/bin/pgwarden-wal-push") + ":/usr/local/bin/pgwarden-wal-push:ro"));
        for (JsonNode secret : compose.at("/services/postgres/secrets")) {
            postgresArgs.addAll(List.of("-v", secrets.resolve(secret.asText()) + ":/run/secrets/" + secret.asText() + ":ro"));
        }
        postgres = PgContainer.start(PASSWORD, archiveCommand, postgresArgs);
        Psql psql = postgres.psql();

        // pgwarden as the compose file runs it, with the schedule due in the coming minute and this machine's images.
        Map<String, String> env = new LinkedHashMap<>();
        compose.at("/services/pgwarden/environment").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
        String cron = cronForTheComingMinute();
        env.putAll(Map.of("PGWARDEN_S3_ENDPOINT", "http://host.docker.internal:" + s3.port(), "PGWARDEN_S3_ACCESS_KEY", S3Server.ACCESS_KEY,
                "PGWARDEN_TOOL_IMAGE", "local/postgres:{major}", "PGWARDEN_TOOL_PULL", "never", "PGWARDEN_NETWORK", network,
                "PGWARDEN_BASE_SCHEDULE", cron, "PGWARDEN_DUMP_SCHEDULE", cron));
        List<String> run = new ArrayList<>(List.of("run", "-d", "--name", name, "--network", network, "--network-alias", "pgwarden",
                "--add-host", "host.docker.internal:host-gateway", "-p", "127.0.0.1::8420", "--health-interval", "2s",
                "--group-add", Processes.run(List.of("stat", "-c", "%g", "/var/run/docker.sock"), null).stdout().strip(),
                "-v", "/var/run/docker.sock:/var/run/docker.sock",
                "-v", repo.resolve("config/pgwarden-container.yml") + ":/etc/pgwarden/pgwarden.yml:ro",
                "-v", "pgwarden-stream:/var/lib/pgwarden-stream"));
        assertThat(compose.at("/services/pgwarden/volumes").toString()).contains("./pgwarden-container.yml:/etc/pgwarden/pgwarden.yml:ro")
                .contains("pgwarden-stream:/var/lib/pgwarden-stream");
        assertThat(compose.at("/volumes/pgwarden-stream/name").asText()).isEqualTo("pgwarden-stream");
        for (JsonNode secret : compose.at("/services/pgwarden/secrets")) {
            run.addAll(List.of("-v", secrets.resolve(secret.asText()) + ":/run/secrets/" + secret.asText() + ":ro"));
        }
        env.forEach((k, v) -> run.addAll(List.of("-e", k + "=" + v)));
        run.add(IMAGE);
        docker(run.toArray(String[]::new));

        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).until(() -> inspect("{{.State.Health.Status}}").equals("healthy"));
        assertThat(docker("exec", name, "id", "-u").strip()).as("runs as the image's unprivileged user").isEqualTo("10001");
        String metricsUrl = "https://" + docker("port", name, "8420/tcp").lines().findFirst().orElseThrow().strip() + "/metrics";

        psql.query("postgres", "CREATE TABLE orders (id bigserial PRIMARY KEY, batch int NOT NULL, placed_at timestamptz DEFAULT clock_timestamp())");
        insertBatch(psql, 1);
        psql.query("postgres", "SELECT pg_switch_wal()");
        await().atMost(Duration.ofMinutes(1)).until(() -> metric(metricsUrl, "pgwarden_wal_archived_total{cluster=\"main\"}") >= 1);

        // The schedule fires within about 75 s; both kinds run in sidecars from local/postgres:15 on the network.
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(2)).until(() ->
                metric(metricsUrl, "pgwarden_backup_last_success_timestamp_seconds{cluster=\"main\",database=\"\",kind=\"base\"}") > 0
                        && metric(metricsUrl, "pgwarden_backup_last_success_timestamp_seconds{cluster=\"main\",database=\"postgres\",kind=\"dump\"}") > 0);
        assertThat(s3.client().listObjectsV2(b -> b.bucket("pg-backups").prefix("prod/main/base/")).contents())
                .anyMatch(o -> o.key().endsWith("/manifest.json"));

        insertBatch(psql, 2);
        Instant target = Instant.parse(psql.query("postgres",
                "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
        Thread.sleep(50);
        insertBatch(psql, 3);
        String segment = psql.query("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
        await().atMost(Duration.ofMinutes(1)).until(() -> psql.query("postgres",
                "SELECT coalesce(last_archived_wal, '') >= '" + segment + "' FROM pg_stat_archiver").equals("t"));
        // Archived through pgwarden-wal-push: its markers' directory in pg_wal (plain curl would leave none).
        assertThat(Processes.run(List.of("docker", "exec", postgres.name(), "test", "-d", "/var/lib/postgresql/data/pgdata/pg_wal/pgwarden-push"),
                null).exitCode()).as("pg_wal/pgwarden-push in the server's container").isZero();

        // The operator's restore, from inside the pgwarden container: a new volume and server container on this host.
        int port = TestDirs.freePort();
        var restore = Processes.run(List.of("docker", "exec", name, "pgwarden", "restore", "--config", "/etc/pgwarden/pgwarden.yml",
                "--cluster", "main", "--target-time", target.toString(), "--start", "--port", Integer.toString(port), "--archive-mode", "off"), null);
        Matcher started = Pattern.compile("started in container (\\S+) on volume (\\S+?)[,; ]").matcher(restore.stdout());
        if (started.find()) restored.addAll(List.of(started.group(1), started.group(2)));
        assertThat(restore.exitCode()).as(restore.stdout() + restore.stderr()).isZero();
        assertThat(restore.stdout()).contains("recovery finished and the server was promoted");
        Psql copy = new Psql("127.0.0.1", port, PASSWORD);
        assertThat(copy.query("postgres", "SELECT batch, count(*) FROM orders GROUP BY batch ORDER BY batch")).isEqualTo("1|1000\n2|1000");
        assertThat(psql.query("postgres", "SELECT count(*) FROM orders")).isEqualTo("3000");

        // docker stop: SIGTERM to the JVM (PID 1), a graceful stop, exit 0.
        docker("stop", "-t", "90", name);
        assertThat(inspect("{{.State.ExitCode}}")).isEqualTo("0");

        // Container logs are JSON, one object per line, and carry no secret.
        String logs = containerLog();
        ObjectMapper json = new ObjectMapper();
        assertThat(logs.lines().filter(l -> !l.isBlank()).toList()).isNotEmpty().allSatisfy(line ->
                assertThat(json.readTree(line).path("level").asText()).as(line).isNotEmpty());
        assertThat(logs).contains("pgwarden stopped").doesNotContain(PASSWORD).doesNotContain(WAL_TOKEN).doesNotContain(ADMIN_TOKEN)
                .doesNotContain(S3Server.SECRET_KEY);
    }

    /** The compose file's secret files, readable by the containers' users (postgres, uid 10001), and its TLS files. */
    private Path secrets(Path dir) throws Exception {
        Files.createDirectories(dir);
        // As compose.yaml's set-up makes them: a private CA, the endpoint's certificate for "pgwarden" (and loopback).
        Certificates.Ca ca = Certificates.ca(dir, "pgwarden-ca-files");
        Certificates.Issued tls = Certificates.issue(ca, dir, "pgwarden-tls", "DNS:pgwarden,DNS:localhost,IP:127.0.0.1");
        Files.copy(ca.certificate(), dir.resolve("pgwarden_ca"));
        Files.copy(tls.certificate(), dir.resolve("pgwarden_tls_cert"));
        Files.copy(tls.key(), dir.resolve("pgwarden_tls_key"));
        for (String f : List.of("pgwarden_ca", "pgwarden_tls_cert", "pgwarden_tls_key")) {
            Files.setPosixFilePermissions(dir.resolve(f), PosixFilePermissions.fromString("rw-r--r--"));
        }
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).sslContext(Certificates.trusting(ca.certificate())).build();
        Map<String, String> files = Map.of("postgres_password", PASSWORD, "pgwarden_wal_token", WAL_TOKEN, "pgwarden_admin_token", ADMIN_TOKEN,
                "pgwarden_s3_secret_key", S3Server.SECRET_KEY, "pgwarden_wal_header", "Authorization: Bearer " + WAL_TOKEN);
        for (var e : files.entrySet()) {
            Path f = dir.resolve(e.getKey());
            Files.writeString(f, e.getValue() + "\n");
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        }
        return dir;
    }

    private static void insertBatch(Psql psql, int batch) {
        psql.query("postgres", "INSERT INTO orders (batch) SELECT " + batch + " FROM generate_series(1, 1000)");
    }

    /** One minute, starting 15 to 75 seconds from now, in the container's time zone (UTC). */
    private static String cronForTheComingMinute() {
        LocalDateTime at = LocalDateTime.now(ZoneOffset.UTC).plusSeconds(75).truncatedTo(ChronoUnit.MINUTES);
        return at.getMinute() + " " + at.getHour() + " * * *";
    }

    /** What the container wrote (the daemon logs to stderr; stdout stays for command output). */
    private String containerLog() {
        var r = Processes.run(List.of("docker", "logs", name), null);
        return r.stdout() + r.stderr();
    }

    private String inspect(String format) {
        return docker("inspect", "--format", format, name).strip();
    }

    private double metric(String url, String series) throws Exception {
        return PgwardenFixture.seriesValue(http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString()).body(),
                series);
    }
}
