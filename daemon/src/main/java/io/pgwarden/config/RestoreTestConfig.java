package io.pgwarden.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Scheduled test restores: where the scratch copy goes, how long it may take, and what to check once it runs.
 * @param checks SQL queries with their expected output (psql -At); none: connect and list the databases
 * @param dumps  also restore the newest dump of each database into a scratch database and check its tables
 */
public record RestoreTestConfig(Path scratchDir, Duration timeout, List<Check> checks, boolean dumps) {
    /** @param expect the query's whole output as psql -At prints it (rows on lines, columns joined by '|') */
    public record Check(String database, String sql, String expect) {
    }

    public RestoreTestConfig {
        checks = List.copyOf(checks);
    }

    public static RestoreTestConfig defaults() {
        return new RestoreTestConfig(Path.of(System.getProperty("java.io.tmpdir"), "pgwarden-restore-test"), Duration.ofHours(2), List.of(), false);
    }
}
