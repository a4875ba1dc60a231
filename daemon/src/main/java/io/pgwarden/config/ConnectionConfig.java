package io.pgwarden.config;

import java.util.Optional;

/** How pgwarden reaches the PostgreSQL server (JDBC for detection, libpq environment for the tools). */
public record ConnectionConfig(String host, int port, String user, Optional<Secret> password, String database, Optional<String> sslmode) {
    public static final int DEFAULT_PORT = 5432;

    /** libpq environment for client tools: connection details stay off the command line, the password too. */
    public java.util.Map<String, Secret> libpqEnvironment() {
        var env = new java.util.LinkedHashMap<String, Secret>();
        env.put("PGHOST", new Secret(host));
        env.put("PGPORT", new Secret(Integer.toString(port)));
        env.put("PGUSER", new Secret(user));
        env.put("PGDATABASE", new Secret(database));
        password.ifPresent(p -> env.put("PGPASSWORD", p));
        sslmode.ifPresent(m -> env.put("PGSSLMODE", new Secret(m)));
        env.put("PGAPPNAME", new Secret("pgwarden"));
        return env;
    }

    public String describe() {
        return user + "@" + host + ":" + port + "/" + database;
    }
}
