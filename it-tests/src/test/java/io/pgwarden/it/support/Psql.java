package io.pgwarden.it.support;

import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The host's PostgreSQL 15 client tools against a server over TCP with a password (as any remote client). */
public record Psql(String host, int port, String password) {
    /** One query's result, unaligned, tuples only; fails the test with psql's message on an error. */
    public String query(String database, String sql) {
        var r = Processes.run(command("psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql), null, env());
        return Processes.checked(r, "psql " + sql).stdout().strip();
    }

    /** Exact row count of every table in the public schema. */
    public Map<String, Long> rowCounts(String database) {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (String table : query(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").lines().toList()) {
            counts.put(table, Long.parseLong(query(database, "SELECT count(*) FROM public.\"" + table + "\"")));
        }
        return counts;
    }

    /** pg_restore of a custom-format dump read from {@code dump} into an existing database. */
    public void restore(InputStream dump, String database) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command("pg_restore", "--no-owner", "--exit-on-error", "-d", database)).redirectErrorStream(true);
        pb.environment().putAll(env());
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            dump.transferTo(in);
        }
        String output = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IllegalStateException("pg_restore failed: " + output);
    }

    private List<String> command(String tool, String... args) {
        List<String> cmd = new ArrayList<>(List.of(PgCluster.BIN.resolve(tool).toString(), "-h", host, "-p", Integer.toString(port), "-U", "postgres"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private Map<String, String> env() {
        return Map.of("PGPASSWORD", password, "PGCONNECT_TIMEOUT", "10");
    }
}
