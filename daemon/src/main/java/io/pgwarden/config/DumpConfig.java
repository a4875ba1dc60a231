package io.pgwarden.config;

import java.time.Duration;
import java.util.List;

/**
 * @param databases the databases to dump; empty: every database that accepts connections, templates excluded
 * @param timeout   each pg_dump is killed after this long
 */
public record DumpConfig(List<String> databases, Duration timeout) {
    public DumpConfig {
        databases = List.copyOf(databases);
    }

    public static DumpConfig defaults() {
        return new DumpConfig(List.of(), Duration.ofHours(24));
    }
}
