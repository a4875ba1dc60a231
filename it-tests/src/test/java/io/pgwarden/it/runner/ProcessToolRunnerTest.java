package io.pgwarden.it.runner;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgwarden.runner.ProcessToolRunner;
import io.pgwarden.runner.ToolRunner;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ProcessToolRunnerTest extends ToolRunnerContract {
    @Override
    ToolRunner createRunner() {
        return new ProcessToolRunner(ProcessToolRunner.DEFAULT_BIN_DIR);
    }

    @Test
    void aMissingToolNamesWhereItLooked() {
        try (ProcessToolRunner wrong = new ProcessToolRunner("/nonexistent/{major}/bin")) {
            assertThatThrownBy(() -> wrong.run(invocation("pg_dump", PASSWORD, Duration.ofSeconds(10), "--version"), out -> { }))
                    .hasMessage("tool 'pg_dump' not found in '/nonexistent/15/bin' (runner.binDir); HINT: install the PostgreSQL 15 client tools");
        }
    }
}
