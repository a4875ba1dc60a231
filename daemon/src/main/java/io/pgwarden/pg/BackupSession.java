package io.pgwarden.pg;

import io.pgwarden.config.ConnectionConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * A non-exclusive backup on the server, held by one session: between {@link #start} and {@link #stop} the data
 * directory may be copied file by file. If the session ends first (the daemon dies, the copy fails), PostgreSQL aborts
 * the backup itself, so a failed copy leaves nothing behind on the server.
 */
public final class BackupSession implements AutoCloseable {
    private final String cluster;
    private final Connection connection;
    private final int major;
    private long startLsn;

    private BackupSession(String cluster, Connection connection, int major) {
        this.cluster = cluster;
        this.connection = connection;
        this.major = major;
    }

    /**
     * What pg_backup_stop returns: the stop point (on a standby its minimum recovery point: the WAL replayed while the
     * files were read) and the backup_label (and tablespace_map) to put beside the files.
     */
    public record Stopped(long stopLsn, String labelFile, String tablespaceMap) {
    }

    /**
     * Starts the backup (a checkpoint first, fast or spread).
     * @param timeout the longest a statement (a spread checkpoint) may take before the session is given up
     */
    public static BackupSession start(String cluster, ConnectionConfig config, int major, String label, boolean fast, Duration timeout) {
        Connection c = null;
        try {
            c = ServerProbe.connect(config, timeout);
            BackupSession session = new BackupSession(cluster, c, major);
            try (PreparedStatement s = c.prepareStatement(major >= 15 ? "SELECT pg_backup_start(?, ?)" : "SELECT pg_start_backup(?, ?, false)")) {
                s.setString(1, label);
                s.setBoolean(2, fast);
                try (ResultSet rs = s.executeQuery()) {
                    rs.next();
                    session.startLsn = Lsn.parse(rs.getString(1));
                }
            }
            return session;
        } catch (SQLException e) {
            closeQuietly(c);
            throw failed("cannot start the backup (" + (major >= 15 ? "pg_backup_start" : "pg_start_backup") + ")", config, e);
        } catch (RuntimeException e) {
            closeQuietly(c);
            throw e;
        }
    }

    /** Where the backup starts: WAL replay from here rewrites every page changed since. */
    public long startLsn() {
        return startLsn;
    }

    /**
     * Ends the backup without waiting for the WAL to be archived: the caller waits for it in the repository, where it
     * must arrive anyway (PostgreSQL's own wait polls once a second).
     */
    public Stopped stop() {
        String sql = major >= 15 ? "SELECT lsn, labelfile, spcmapfile FROM pg_backup_stop(false)"
                : "SELECT lsn, labelfile, spcmapfile FROM pg_stop_backup(false, false)";
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return new Stopped(Lsn.parse(rs.getString(1)), rs.getString(2), rs.getString(3));
        } catch (SQLException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cluster '" + cluster + "': cannot stop the backup: " + e.getMessage(), e);
        }
    }

    /** Ends the session; a backup not stopped is aborted by the server. */
    @Override
    public void close() {
        closeQuietly(connection);
    }

    private static PgwardenException failed(String what, ConnectionConfig config, SQLException e) {
        String hint = "42501".equals(e.getSQLState()) ? "; HINT: the role needs EXECUTE on the backup functions (or superuser)" : "";
        return new PgwardenException(ErrorCode.TOOL, what + " at " + config.describe() + ": " + e.getMessage() + hint, e);
    }

    private static void closeQuietly(Connection c) {
        if (c == null) return;
        try {
            c.close();
        } catch (SQLException ignored) {
            // The session is gone either way, and with it any backup it held.
        }
    }
}
