package io.pgwarden.it.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The daemon's metrics as operators meet them, against a daemon that has done real work on a real PostgreSQL 15
 * (WAL archived, a refused push, a base backup, dumps, a test restore, a verify, a prune): the README's catalogue
 * is exactly what /metrics shows; the alert rules pass promtool's unit tests; and a real Prometheus (Debian's
 * package) scraping the daemon evaluates every rule without error, parses every dashboard expression, and the
 * dashboard's key panels return series.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ObservabilityTest {
    static final Path REPO_ROOT = Path.of(System.getProperty("pgwarden.repoRoot", "..")).toAbsolutePath().normalize();
    static final Path DASHBOARDS = REPO_ROOT.resolve("grafana-dashboards");
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final ObjectMapper JSON = new ObjectMapper();

    Path dir;
    PgCluster source;
    PgwardenFixture pgwarden;
    Process prometheus;
    int prometheusPort;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-ops-");
        source = PgCluster.init(dir, "source", 16);
        // Every schedule set (to a far-away time) so that every meter is registered; the runs are asked for below.
        pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "",
                "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres}\n"
                        + "schedules: {base: \"0 3 1 1 *\", dump: \"0 3 1 1 *\", restoreTest: \"0 3 1 1 *\", retention: \"0 3 1 1 *\","
                        + " verify: \"0 3 1 1 *\"}\n"
                        + "retention: {base: {keepLast: 1, window: 7d}}\n"
                        + "restoreTest: {scratchDir: " + dir.resolve("scratch") + ", checks: [{sql: \"SELECT count(*) FROM t\", expect: \"100\"}]}\n");
        source.configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'").start();
        source.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g");
        for (JobKind kind : List.of(JobKind.BASE, JobKind.DUMP, JobKind.BASE, JobKind.RESTORE_TEST,
                JobKind.VERIFY, JobKind.RETENTION)) {
            var run = pgwarden.daemon().jobs().run(new JobRequest("main", kind, Optional.empty(), "test"));
            assertThat(run.state()).as(kind + ": " + run.error()).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        }
        source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
        // A push with a wrong token: refused, and counted by reason.
        assertThat(pgwarden.put("000000010000000000000099", new byte[16], "a-wrong-token-0123456789").statusCode()).isEqualTo(401);
    }

    @AfterAll
    void stop() throws Exception {
        if (prometheus != null) {
            prometheus.destroy();
            prometheus.waitFor();
        }
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        TestDirs.delete(dir);
    }

    /** name → "type | labels" for every pgwarden_ family, from the README's metrics table. */
    static Map<String, String> readmeCatalogue() throws Exception {
        String readme = Files.readString(REPO_ROOT.resolve("README.md"));
        String section = readme.substring(readme.indexOf("### Metrics"));
        section = section.substring(0, section.indexOf("\n#", 5));
        Map<String, String> rows = new TreeMap<>();
        Matcher m = Pattern.compile("(?m)^\\| `(pgwarden_[a-z_]+)` \\| (\\w+) \\| ([a-z_, ]*) \\|").matcher(section);
        while (m.find()) {
            rows.put(m.group(1), m.group(2) + " | " + new TreeSet<>(List.of(m.group(3).split(",\\s*"))).toString());
        }
        return rows;
    }

    /** name → "type | labels" for every pgwarden_ family the daemon exposes (histogram buckets' le left out). */
    Map<String, String> scrapedCatalogue() throws Exception {
        String text = pgwarden.getText("/metrics").body();
        Map<String, String> types = new TreeMap<>();
        Map<String, TreeSet<String>> labels = new TreeMap<>();
        for (String line : text.lines().toList()) {
            Matcher type = Pattern.compile("^# TYPE (pgwarden_\\S+) (\\S+)$").matcher(line);
            if (type.matches()) {
                types.put(type.group(1), type.group(2));
                labels.put(type.group(1), new TreeSet<>());
            }
        }
        for (String line : text.lines().filter(l -> l.startsWith("pgwarden_")).toList()) {
            String series = line.substring(0, line.indexOf('{') < 0 ? line.indexOf(' ') : line.indexOf('{'));
            String family = types.containsKey(series) ? series : series.replaceAll("_(bucket|count|sum)$", "");
            Matcher label = Pattern.compile("([a-z_]+)=\"").matcher(line.substring(series.length()));
            while (label.find()) if (!label.group(1).equals("le")) labels.get(family).add(label.group(1));
        }
        Map<String, String> out = new TreeMap<>();
        types.forEach((name, type) -> out.put(name, type + " | " + labels.get(name)));
        return out;
    }

    @Test
    void theReadmeCatalogueIsExactlyWhatMetricsShows() throws Exception {
        Map<String, String> readme = readmeCatalogue();
        assertThat(readme).hasSizeGreaterThan(15);
        assertThat(scrapedCatalogue()).isEqualTo(readme);
    }

    @Test
    void theAlertRulesPassTheirUnitTests() {
        var check = Processes.run(List.of("promtool", "check", "rules", "alerts.yml"), DASHBOARDS);
        assertThat(check.exitCode()).as(check.stdout() + check.stderr()).isZero();
        assertThat(check.stdout()).contains("SUCCESS: 12 rules found");
        var test = Processes.run(List.of("promtool", "test", "rules", "alerts.test.yml"), DASHBOARDS);
        assertThat(test.exitCode()).as(test.stdout() + test.stderr()).isZero();
        assertThat(test.stdout()).contains("SUCCESS");
    }

    @Test
    void prometheusEvaluatesEveryRuleAndEveryDashboardExpressionAndTheKeyPanelsHaveSeries() throws Exception {
        startPrometheus();
        // rate() over [5m] needs two samples; rules need an evaluation after the first scrape.
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).until(() ->
                query("count_over_time(up{job=\"pgwarden\"}[5m])").path(0).path("value").path(1).asInt() >= 3);
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
            JsonNode rules = getRaw("/api/v1/rules").path("data").path("groups").path(0).path("rules");
            assertThat(rules).hasSize(12);
            for (JsonNode rule : rules) {
                assertThat(rule.path("health").asText()).as(rule.path("name") + ": " + rule.path("lastError")).isEqualTo("ok");
            }
        });

        JsonNode dashboard = JSON.readTree(DASHBOARDS.resolve("pgwarden-overview.json").toFile());
        assertThat(dashboard.path("templating").path("list").findValuesAsText("name")).contains("datasource", "cluster");
        Map<String, Integer> seriesByPanel = new TreeMap<>();
        for (JsonNode panel : dashboard.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                String expr = target.path("expr").asText().replace("$cluster", "main").replace("$job", "pgwarden");
                JsonNode answer = getRaw("/api/v1/query?query=" + URLEncoder.encode(expr, StandardCharsets.UTF_8));
                assertThat(answer.path("status").asText()).as(panel.path("title") + ": " + expr + " → " + answer).isEqualTo("success");
                seriesByPanel.merge(panel.path("title").asText(), answer.path("data").path("result").size(), Integer::sum);
            }
        }
        for (String key : List.of("Age of the last base backup", "Age of the last dump, per database", "Recovery window",
                "Time since last archived WAL file", "WAL files archived per second", "WAL push latency", "WAL push failures by reason",
                "PostgreSQL server up", "Spooled WAL: oldest waiting for upload", "Last test restore", "Measured recovery time", "Last verify", "Repository size by kind",
                "JVM memory used")) {
            assertThat(seriesByPanel.get(key)).as("series of panel '%s'", key).isNotNull().isGreaterThan(0);
        }
        // The values behind two of them, as the daemon knows them (the server started after the daemon's first probe;
        // the next comes within 30 s).
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofSeconds(1)).until(() ->
                query("pgwarden_cluster_up{cluster=\"main\"}").path(0).path("value").path(1).asText().equals("1"));
        assertThat(query("sum(pgwarden_repository_size_bytes{cluster=\"main\",kind=\"base\"})").path(0).path("value").path(1).asDouble())
                .isEqualTo(pgwarden.metric("pgwarden_repository_size_bytes{cluster=\"main\",kind=\"base\"}"));
    }

    private void startPrometheus() throws Exception {
        Path home = Files.createDirectories(dir.resolve("prometheus"));
        Files.copy(DASHBOARDS.resolve("alerts.yml"), home.resolve("alerts.yml"));
        URI daemon = URI.create(pgwarden.baseUrl());
        Files.writeString(home.resolve("prometheus.yml"), """
                global: {scrape_interval: 1s, evaluation_interval: 1s}
                rule_files: [alerts.yml]
                scrape_configs:
                  - job_name: pgwarden
                    static_configs: [{targets: ["%s:%d"]}]
                """.formatted(daemon.getHost(), daemon.getPort()));
        prometheusPort = TestDirs.freePort();
        prometheus = new ProcessBuilder("prometheus", "--config.file=" + home.resolve("prometheus.yml"), "--storage.tsdb.path=" + home.resolve("data"),
                "--web.listen-address=127.0.0.1:" + prometheusPort)
                .redirectErrorStream(true).redirectOutput(home.resolve("prometheus.log").toFile()).start();
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(500)).ignoreExceptions().until(() ->
                HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + prometheusPort + "/-/ready")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
    }

    private JsonNode query(String promql) throws Exception {
        JsonNode answer = getRaw("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        assertThat(answer.path("status").asText()).as(promql + " → " + answer).isEqualTo("success");
        return answer.path("data").path("result");
    }

    private JsonNode getRaw(String path) throws Exception {
        var response = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + prometheusPort + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(response.body());
    }
}
