package io.pgwarden.pg;

import io.pgwarden.config.ConnectionConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Properties;

/** Asks the server over JDBC what the backup recipes need: version (which tools/image), system id, tablespaces. */
public final class ServerProbe {
    private ServerProbe() {
    }

    public static ServerInfo probe(String cluster, ConnectionConfig connection) {
        try (Connection c = connect(connection); Statement s = c.createStatement()) {
            int versionNum = Integer.parseInt(single(s, "SHOW server_version_num"));
            long segmentSize = Long.parseLong(single(s, "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"));
            return new ServerInfo(versionNum, systemIdentifier(s), segmentSize, tablespaces(s));
        } catch (SQLException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': cannot query PostgreSQL at " + connection.describe()
                    + ": " + e.getMessage(), e);
        }
    }

    /** A server setting's current value; empty if this server has no such setting (an older major). */
    public static java.util.Optional<String> setting(String cluster, ConnectionConfig connection, String name) {
        return java.util.Optional.ofNullable(settings(cluster, connection, name).get(name));
    }

    /** Server settings' current values, on one connection; a setting this server does not have is left out. */
    public static java.util.Map<String, String> settings(String cluster, ConnectionConfig connection, String... names) {
        try (Connection c = connect(connection);
             java.sql.PreparedStatement s = c.prepareStatement("SELECT name, setting FROM pg_settings WHERE name = ANY (?)")) {
            s.setArray(1, c.createArrayOf("text", names));
            java.util.Map<String, String> values = new java.util.HashMap<>();
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) if (rs.getString(2) != null) values.put(rs.getString(1), rs.getString(2));
            }
            return values;
        } catch (SQLException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': cannot query PostgreSQL at " + connection.describe()
                    + ": " + e.getMessage(), e);
        }
    }

    /** Databases a dump of "every database" covers: those that accept connections, templates excluded. */
    public static List<String> databases(String cluster, ConnectionConfig connection) {
        try (Connection c = connect(connection); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname")) {
            List<String> out = new ArrayList<>();
            while (rs.next()) out.add(rs.getString(1));
            return out;
        } catch (SQLException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': cannot list databases at " + connection.describe()
                    + ": " + e.getMessage(), e);
        }
    }

    public static Connection connect(ConnectionConfig connection) throws SQLException {
        return connect(connection, java.time.Duration.ofSeconds(60));
    }

    /** @param socketTimeout the longest one statement may take (a spread checkpoint takes minutes) */
    public static Connection connect(ConnectionConfig connection, java.time.Duration socketTimeout) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", connection.user());
        connection.password().ifPresent(p -> props.setProperty("password", p.value()));
        connection.sslmode().ifPresent(m -> props.setProperty("sslmode", m));
        props.setProperty("ApplicationName", "pgwarden");
        props.setProperty("connectTimeout", "10");
        props.setProperty("socketTimeout", Long.toString(Math.max(1, Math.min(Integer.MAX_VALUE, socketTimeout.toSeconds()))));
        String host = connection.host().contains(":") ? "[" + connection.host() + "]" : connection.host();
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + connection.port() + "/" + connection.database(), props);
    }

    /** pg_control_system() is for superusers and pg_monitor members; a backup role without it still works. */
    private static OptionalLong systemIdentifier(Statement s) throws SQLException {
        try {
            return OptionalLong.of(Long.parseUnsignedLong(single(s, "SELECT system_identifier FROM pg_control_system()")));
        } catch (SQLException e) {
            if ("42501".equals(e.getSQLState())) return OptionalLong.empty(); // insufficient_privilege
            throw e;
        }
    }

    private static List<String> tablespaces(Statement s) throws SQLException {
        List<String> out = new ArrayList<>();
        try (ResultSet rs = s.executeQuery("SELECT spcname, pg_tablespace_location(oid) FROM pg_tablespace"
                + " WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY spcname")) {
            while (rs.next()) out.add(rs.getString(1) + " (" + rs.getString(2) + ")");
        }
        return out;
    }

    private static String single(Statement s, String sql) throws SQLException {
        try (ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
