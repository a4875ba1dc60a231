package io.pgwarden.it.runner;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.config.Secret;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import io.pgwarden.runner.ToolRunner;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** What every ToolRunner must do, against a real PostgreSQL 15 that requires a password over TCP. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ToolRunnerContract {
    static final String PASSWORD = "s3cret-Pa55word";
    static final int ROWS = 5000;

    Path dir;
    PgCluster pg;
    ToolRunner runner;

    abstract ToolRunner createRunner() throws Exception;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-runner-");
        pg = PgCluster.init(dir, "pg", 16).start();
        pg.query("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS pad FROM generate_series(1, " + ROWS + ") g");
        pg.requirePassword(PASSWORD);
        runner = createRunner();
    }

    @AfterAll
    void stop() {
        if (runner != null) runner.close();
        if (pg != null) pg.close();
        TestDirs.delete(dir);
    }

    ToolInvocation invocation(String tool, String password, Duration timeout, String... args) {
        return new ToolInvocation(tool, List.of(args), 15, Map.of("PGPASSWORD", new Secret(password)), timeout, "test",
                UUID.randomUUID().toString().substring(0, 8));
    }

    String[] connection() {
        return new String[] {"-h", "127.0.0.1", "-p", Integer.toString(pg.port()), "-U", "postgres"};
    }

    String[] with(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void streamsAToolsStdoutToTheConsumer() {
        AtomicLong dataRows = new AtomicLong();
        ToolResult result = runner.run(invocation("pg_dump", PASSWORD, Duration.ofMinutes(2),
                with(connection(), "--data-only", "-t", "t", "postgres")), out -> {
            var reader = new BufferedReader(new InputStreamReader(out, StandardCharsets.UTF_8));
            boolean inCopy = false;
            for (String line; (line = reader.readLine()) != null; ) {
                if (line.startsWith("COPY public.t ")) inCopy = true;
                else if (line.equals("\\.")) inCopy = false;
                else if (inCopy) dataRows.incrementAndGet();
            }
        });
        assertThat(result.succeeded()).as(result.failureSummary("pg_dump")).isTrue();
        assertThat(dataRows.get()).isEqualTo(ROWS);
    }

    @Test
    void aWrongPasswordFailsWithTheToolsOwnMessage() {
        ToolResult result = runner.run(invocation("pg_dump", "wrong-password", Duration.ofMinutes(1),
                with(connection(), "-t", "t", "postgres")), out -> out.readAllBytes());
        assertThat(result.succeeded()).isFalse();
        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.failureSummary("pg_dump")).startsWith("pg_dump exited with code 1: ")
                .contains("password authentication failed for user \"postgres\"");
    }

    @Test
    void aTimeoutKillsTheTool() {
        ToolResult result = runner.run(invocation("psql", PASSWORD, Duration.ofSeconds(2),
                with(connection(), "-d", "postgres", "-c", "SELECT pg_sleep(120)")), out -> out.readAllBytes());
        assertThat(result.timedOut()).isTrue();
        assertThat(result.succeeded()).isFalse();
        assertThat(result.elapsed()).isLessThan(Duration.ofSeconds(60));
        assertThat(result.failureSummary("psql")).startsWith("psql was killed after its timeout");
    }
}
