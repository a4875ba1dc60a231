package io.pgwarden.schedule;

import io.pgwarden.config.SchedulerConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.jobs.StoreFailure;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.List;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The PostgreSQL database daemons share their schedules in: connections to it (one per use: Quartz touches it every
 * few seconds, not per request), and Quartz's own tables, created from the script Quartz ships when they are missing.
 */
public final class SchedulerDatabase {
    private static final String QUARTZ_SCRIPT = "/org/quartz/impl/jdbcjobstore/tables_postgres.sql";
    /** Serialises the creation of the tables when several daemons start at once ('pgwd', 0). */
    private static final String CREATE_LOCK = "SELECT pg_advisory_xact_lock(" + 0x70677764 + ", 0)";

    private SchedulerDatabase() {
    }

    /** A data source for the store, checked by connecting once; Quartz's tables exist when this returns. */
    public static DataSource open(SchedulerConfig.JdbcStore store, String instance) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        try {
            ds.setURL(store.url());
        } catch (IllegalArgumentException e) {
            throw new PgwardenException(ErrorCode.CONFIG, "scheduler.url '" + store.url() + "' is not a PostgreSQL JDBC URL: " + e.getMessage(), e);
        }
        ds.setUser(store.user());
        store.password().ifPresent(p -> ds.setPassword(p.value()));
        ds.setApplicationName("pgwarden " + instance);
        ds.setConnectTimeout(10);
        ds.setSocketTimeout(60);
        createQuartzTables(ds, store);
        return ds;
    }

    private static void createQuartzTables(DataSource ds, SchedulerConfig.JdbcStore store) {
        try (Connection c = ds.getConnection()) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute(CREATE_LOCK);
                try (ResultSet r = s.executeQuery("SELECT to_regclass('qrtz_locks') IS NOT NULL")) {
                    r.next();
                    if (r.getBoolean(1)) return;
                }
                for (String statement : quartzStatements()) s.execute(statement);
            }
            c.commit();
        } catch (SQLException e) {
            throw StoreFailure.of(store, "cannot create Quartz's tables", e);
        }
    }

    /** The CREATE statements of Quartz's script (it also drops the tables first, which is not done here). */
    static List<String> quartzStatements() {
        try (InputStream in = SchedulerDatabase.class.getResourceAsStream(QUARTZ_SCRIPT)) {
            if (in == null) throw new IllegalStateException("Quartz's " + QUARTZ_SCRIPT + " is missing from the class path");
            String script = new String(in.readAllBytes(), StandardCharsets.UTF_8).replaceAll("(?m)^--.*$", "");
            return Arrays.stream(script.split(";")).map(String::strip)
                    .filter(st -> st.regionMatches(true, 0, "CREATE", 0, 6)).toList();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read Quartz's " + QUARTZ_SCRIPT + ": " + e.getMessage(), e);
        }
    }
}
