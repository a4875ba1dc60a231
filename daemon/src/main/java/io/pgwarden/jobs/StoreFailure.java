package io.pgwarden.jobs;

import io.pgwarden.config.SchedulerConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.sql.SQLException;

/** A failure to reach, prepare or write the shared scheduler store, naming it, with the hint for the common cause. */
public final class StoreFailure {
    private StoreFailure() {
    }

    public static PgwardenException of(SchedulerConfig.JdbcStore store, String what, SQLException e) {
        String where = "scheduler store " + store.url() + " (user '" + store.user() + "')";
        if ("42501".equals(e.getSQLState())) {
            return new PgwardenException(ErrorCode.CONFIG, where + ": " + what + ": " + e.getMessage() + "; HINT: GRANT CREATE ON SCHEMA"
                    + " public TO " + store.user() + " (or start pgwarden once as the database's owner, which creates the tables)", e);
        }
        return new PgwardenException(ErrorCode.SCHEDULER_STORE, where + ": " + what + ": " + e.getMessage()
                + (e.getSQLState() == null ? "" : " (SQLSTATE " + e.getSQLState() + ")"), e);
    }
}
