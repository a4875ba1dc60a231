package io.pgwarden.it.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgContainer;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * README command 1: {@code pgwarden quickstart} run as an operator would, the real bin/pgwarden on this machine's
 * PostgreSQL binaries. It must back up, prove a point-in-time restore, serve /metrics, leave the "Try" commands it
 * prints working, and clean up on Ctrl-C.
 */
class QuickstartTest {
    static final String NO_CURL_IMAGE = "local/pgwarden-it-postgres-nocurl:15";
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    Path logDir = TestDirs.create("pgwarden-quickstart-test-");
    Path log = logDir.resolve("quickstart.log");
    Process quickstart;
    Path workDir;

    @AfterEach
    void cleanUp() throws Exception {
        Processes.run(List.of("bash", "-c", "docker rm -f $(docker ps -aq --filter name=pgwarden-quickstart) 2>/dev/null;"
                + " docker volume rm $(docker volume ls -q --filter name=pgwarden-quickstart) 2>/dev/null;"
                + " docker rmi " + NO_CURL_IMAGE + " 2>/dev/null; true"), null);
        if (quickstart != null && quickstart.isAlive()) quickstart.destroyForcibly().waitFor();
        // A killed quickstart cannot stop its server: do it here, so no postgres outlives the test.
        if (workDir != null && Files.exists(workDir.resolve("pg/data/postmaster.pid"))) {
            Processes.asPostgres(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", workDir.resolve("pg/data").toString(), "-m", "immediate", "stop");
        }
        if (Files.exists(log)) System.out.println("quickstart output:\n" + Files.readString(log));
        if (workDir != null) TestDirs.delete(workDir);
        TestDirs.delete(logDir);
    }

    @Test
    void backsUpProvesAPointInTimeRestoreServesMetricsAndRemovesEverythingOnCtrlC() throws Exception {
        quickstart = Launcher.start(log, "quickstart");
        String out = awaitRunning();
        workDir = Path.of(find(out, "everything lives in (\\S+) and is removed on exit"));
        assertThat(workDir).isDirectory();

        assertThat(Pattern.compile("(?m)^\\[\\d/8\\] .* \\.\\.\\. ok \\(").matcher(out).results().count()).as(out).isEqualTo(8);
        assertThat(out).containsPattern("(?m)^  base backup +\\d{8}T\\d{6}Z-\\w+ +[\\d.]+ MB +[\\d.]+ MB")
                .containsPattern("(?m)^  dump postgres +\\d{8}T")
                .containsPattern("(?m)^  dump \\(globals\\) +\\d{8}T")
                .containsPattern("(?m)^  WAL, timeline 1 +\\d+ files")
                .containsPattern("(?m)^  recovery window +from \\d{4}-")
                .contains("rows per batch in the restored copy: 1: 1000 2: 1000 (expected 1: 1000 2: 1000");
        String target = find(out, "test restore +succeeded to (\\S+):");

        // The live cluster has batch 3, committed after the target: the restored copy's two batches are PITR's doing.
        Matcher psql = Pattern.compile("psql -h (\\S+) -p (\\d+) -U postgres").matcher(out);
        assertThat(psql.find()).isTrue();
        var live = Processes.run(List.of(PgCluster.BIN.resolve("psql").toString(), "-X", "-At", "-h", psql.group(1), "-p", psql.group(2), "-U",
                "postgres", "-c", "SELECT batch, count(*) FROM quickstart_orders GROUP BY batch ORDER BY batch;"
                        + " SELECT count(*) FROM quickstart_orders WHERE batch = 3 AND placed_at > '" + target + "'"), null);
        assertThat(live.stdout()).as(live.stderr()).isEqualTo("1|1000\n2|1000\n3|1000\n1000\n");

        String metricsUrl = find(out, "metrics +(http://\\S+/metrics)");
        String metrics = HTTP.send(HttpRequest.newBuilder(URI.create(metricsUrl)).build(), HttpResponse.BodyHandlers.ofString()).body();
        assertThat(value(metrics, "pgwarden_backup_last_success_timestamp_seconds\\{cluster=\"quickstart\",database=\"\",kind=\"base\"}")).isPositive();
        assertThat(value(metrics, "pgwarden_backup_last_success_timestamp_seconds\\{cluster=\"quickstart\",database=\"postgres\",kind=\"dump\"}"))
                .isPositive();
        assertThat(value(metrics, "pgwarden_restore_test_last_success_timestamp_seconds\\{cluster=\"quickstart\"}")).isPositive();
        assertThat(value(metrics, "pgwarden_wal_archived_total\\{cluster=\"quickstart\"}")).isGreaterThanOrEqualTo(3);
        assertThat(value(metrics, "pgwarden_recovery_window_seconds\\{cluster=\"quickstart\"}")).isGreaterThanOrEqualTo(0);

        // The commands it suggests work against the running quickstart.
        String config = find(out, "bin/pgwarden list --config (\\S+) --cluster quickstart");
        var backup = Launcher.run("backup", "--config", config, "--cluster", "quickstart", "--kind", "base");
        assertThat(backup.exitCode()).as(backup.stderr()).isZero();
        var list = Launcher.run("list", "--config", config, "--cluster", "quickstart");
        assertThat(list.stdout()).as(list.stderr()).contains("base backups: 2");

        int pgPort = Integer.parseInt(psql.group(2));
        int daemonPort = URI.create(metricsUrl).getPort();
        signal("INT");
        assertThat(quickstart.waitFor(90, TimeUnit.SECONDS)).as("stopped within 90 s").isTrue();
        assertThat(quickstart.exitValue()).as(Files.readString(log)).isZero();
        assertThat(Files.readString(log)).contains("quickstart stopped");
        assertThat(workDir).doesNotExist();
        assertThat(refused(pgPort)).as("PostgreSQL stopped").isTrue();
        assertThat(refused(daemonPort)).as("daemon stopped").isTrue();
    }

    @Test
    void keptDirectoryStaysAReadableRepositoryAndBadInputIsRefusedWithoutTouchingIt() throws Exception {
        // Deep enough that sockets under it would pass the kernel's 107-byte limit: the servers must still start.
        workDir = logDir.resolve("kept-quickstart-in-a-directory-whose-path-is-long-enough-to-matter");
        quickstart = Launcher.start(log, "quickstart", "--dir", workDir.toString(), "--keep");
        String out = awaitRunning();
        assertThat(out).contains("everything lives in " + workDir + " (kept on exit)").contains("; " + workDir + " stays.");
        signal("TERM");
        assertThat(quickstart.waitFor(90, TimeUnit.SECONDS)).isTrue();
        assertThat(quickstart.exitValue()).as(Files.readString(log)).isZero();

        // Kept: the repository is self-describing, so the CLI reads and checks it with the daemon gone.
        Path config = workDir.resolve("pgwarden.yml");
        var verify = Launcher.run("verify", "--config", config.toString(), "--cluster", "quickstart");
        assertThat(verify.exitCode()).as(verify.stdout() + verify.stderr()).isZero();
        var list = Launcher.run("list", "--config", config.toString(), "--cluster", "quickstart");
        assertThat(list.stdout()).contains("base backups: 1").contains("dumps: 2");

        var notEmpty = Launcher.run("quickstart", "--dir", workDir.toString());
        assertThat(notEmpty.exitCode()).isEqualTo(2);
        assertThat(notEmpty.stderr()).contains("pgwarden: '" + workDir + "' is not empty; the quickstart needs an empty or new directory");
        assertThat(Launcher.run("list", "--config", config.toString(), "--cluster", "quickstart").stdout()).isEqualTo(list.stdout());

        var noBinaries = Launcher.run("quickstart", "--pg-bin", "/nonexistent/bin");
        assertThat(noBinaries.exitCode()).isEqualTo(2);
        assertThat(noBinaries.stderr()).contains("no PostgreSQL server binaries found ('/nonexistent/bin' lacks one of [initdb, pg_ctl,")
                .contains("or pass --pg-bin DIR");

        var badImage = Launcher.run("quickstart", "--image", "postgres:15; rm -rf /");
        assertThat(badImage.exitCode()).isEqualTo(2);
        assertThat(badImage.stderr()).contains("--image 'postgres:15; rm -rf /' is not an image reference");

        var badDir = Launcher.run("quickstart", "--dir", workDir + "/with space");
        assertThat(badDir.exitCode()).isEqualTo(2);
        assertThat(badDir.stderr()).contains("use a path of letters, digits, '.', '_', '-' and '/' only");
        assertThat(workDir.resolve("with space")).doesNotExist();
        assertThat(out).containsPattern("psql -h /tmp/pgwarden-sock-\\d+ ");
    }

    /**
     * Docker mode, with an image that has no curl (like the official postgres images): the server runs in a
     * container on the host network and archives through the quickstart's /dev/tcp push script; backups and the
     * test restore run in sidecars. Everything it created in Docker is gone after Ctrl-C.
     */
    @Test
    void dockerModeRunsTheServerAndToolsInContainersAndRemovesThem() throws Exception {
        assumeTrue(PgContainer.imagePresent(), "no local image " + PgContainer.IMAGE + " (it-tests/images/build-images.sh builds it)");
        String scratch = "pgw-it-nocurl-" + ProcessHandle.current().pid();
        PgContainer.docker("run", "--name", scratch, PgContainer.IMAGE, "rm", "/usr/bin/curl");
        PgContainer.docker("commit", scratch, NO_CURL_IMAGE);
        PgContainer.docker("rm", scratch);

        quickstart = Launcher.start(log, "quickstart", "--docker", "--image", NO_CURL_IMAGE);
        String out = awaitRunning();
        workDir = Path.of(find(out, "everything lives in (\\S+) and is removed on exit"));
        assertThat(out).contains("PostgreSQL in containers from image " + NO_CURL_IMAGE);
        assertThat(Pattern.compile("(?m)^\\[\\d/8\\] .* \\.\\.\\. ok \\(").matcher(out).results().count()).as(out).isEqualTo(8);
        assertThat(out).contains("rows per batch in the restored copy: 1: 1000 2: 1000 (expected 1: 1000 2: 1000");

        // The printed command reaches the server in its container; it archives through the push script, not curl.
        String exec = find(out, "(docker exec -it -u postgres \\S+ psql -h /tmp -p \\d+ -U postgres)");
        List<String> psql = new ArrayList<>(List.of(exec.replace(" -it", "").split(" ")));
        psql.addAll(List.of("-X", "-At", "-c", "SELECT count(*) FROM quickstart_orders; SHOW archive_command"));
        var live = Processes.run(psql, null);
        assertThat(live.stdout()).as(live.stderr()).startsWith("3000\nbash /var/lib/postgresql/data/push-wal.sh %p %f");
        String metricsUrl = find(out, "metrics +(http://\\S+/metrics)");
        String metrics = HTTP.send(HttpRequest.newBuilder(URI.create(metricsUrl)).build(), HttpResponse.BodyHandlers.ofString()).body();
        assertThat(value(metrics, "pgwarden_wal_archived_total\\{cluster=\"quickstart\"}")).isGreaterThanOrEqualTo(3);

        signal("INT");
        assertThat(quickstart.waitFor(90, TimeUnit.SECONDS)).isTrue();
        assertThat(quickstart.exitValue()).as(Files.readString(log)).isZero();
        assertThat(workDir).doesNotExist();
        assertThat(PgContainer.docker("ps", "-aq", "--filter", "name=pgwarden-quickstart").strip()).as("containers left").isEmpty();
        assertThat(PgContainer.docker("volume", "ls", "-q", "--filter", "name=pgwarden-quickstart").strip()).as("volumes left").isEmpty();
    }

    /** The output once the summary is printed; fails at once if the quickstart exits first. */
    private String awaitRunning() throws Exception {
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofMillis(250)).until(() -> {
            if (!quickstart.isAlive()) throw new AssertionError("quickstart exited " + quickstart.exitValue() + ":\n" + Files.readString(log));
            return Files.readString(log).contains("Press Ctrl-C to stop");
        });
        return Files.readString(log);
    }

    private void signal(String name) {
        var r = Processes.run(List.of("kill", "-" + name, Long.toString(quickstart.pid())), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
    }

    private static String find(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as("/" + regex + "/ in:\n" + text).isTrue();
        return m.group(1);
    }

    private static double value(String metrics, String seriesRegex) {
        return Double.parseDouble(find(metrics, "(?m)^" + seriesRegex + " (\\S+)$"));
    }

    private static boolean refused(int port) {
        try (Socket ignored = new Socket("127.0.0.1", port)) {
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
