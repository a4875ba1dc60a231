package io.pgwarden.it.restore;

/** Test restores with the process runner: a scratch directory, pg_ctl from runner.binDir, WAL through the daemon. */
class ProcessRunnerTestRestoreTest extends TestRestoreEndToEnd {
    @Override
    String runnerYaml() {
        return "runner: {type: process}\n";
    }
}
