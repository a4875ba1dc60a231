package io.pgwarden.pg;

import io.pgwarden.config.ConnectionConfig;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends the server's side of a pg_basebackup run that failed. Its walsender notices a client gone only when it next
 * sends: at the end of a backup it waits for the backup's WAL to be archived, which a repository that is gone never
 * does, and it would hold a walsender slot until then (a few failed runs during an outage would leave standbys
 * without any).
 */
public final class ServerBackupEnd {
    private static final Logger log = LoggerFactory.getLogger(ServerBackupEnd.class);

    private ServerBackupEnd() {
    }

    /** Best effort: terminates the walsenders whose BASE_BACKUP carries {@code label}; what fails is logged. */
    public static void terminate(String cluster, ConnectionConfig connection, String label) {
        String sql = "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'walsender'"
                + " AND query LIKE 'BASE_BACKUP%' AND strpos(query, ?) > 0";
        try (Connection c = ServerProbe.connect(connection, java.time.Duration.ofSeconds(30)); PreparedStatement s = c.prepareStatement(sql)) {
            s.setString(1, "LABEL '" + label.replace("'", "''") + "'");
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    log.info("cluster '{}': ended the server's side of backup '{}' (walsender {}{})", cluster, label, r.getInt(1),
                            r.getBoolean(2) ? "" : ", which would not end");
                }
            }
        } catch (SQLException e) {
            log.warn("cluster '{}': cannot end the server's side of backup '{}' (it ends once its WAL is archived): {}", cluster, label,
                    e.getMessage());
        }
    }
}
