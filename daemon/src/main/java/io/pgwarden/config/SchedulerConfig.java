package io.pgwarden.config;

import java.util.Optional;

/**
 * Where Quartz keeps the schedules and pgwarden its run states: in this process's memory (one daemon, the default), or
 * in a PostgreSQL database that several daemons share (Quartz's clustered JDBC job store: each scheduled time runs on
 * exactly one of them, and a run started through any daemon's admin API is visible on all of them).
 * @param jdbc empty: in memory
 */
public record SchedulerConfig(Optional<JdbcStore> jdbc) {
    public static final SchedulerConfig IN_MEMORY = new SchedulerConfig(Optional.empty());

    /** @param url a {@code jdbc:postgresql://} URL, connecting directly or through a session-mode pooler (run claims hold a session) */
    public record JdbcStore(String url, String user, Optional<Secret> password) {
    }

    public boolean shared() {
        return jdbc.isPresent();
    }
}
