package io.pgwarden.restore;

/**
 * Where a restore lands and where its server runs: a directory on this host ({@link DirectorySite}: the process
 * runner, or an operator who starts the server) or a Docker volume ({@link VolumeSite}: the docker runner, whose
 * engine need not share a filesystem with pgwarden). {@link PitrRestore} picks one; callers only fill and start it.
 */
public sealed interface RestoreSite permits DirectorySite, VolumeSite {
    /** Restores the plan's base backup with its recovery settings; a failure leaves nothing that could be started. */
    void fill(RestorePlan plan, Recovery recovery, Progress progress);

    /** Starts PostgreSQL on the filled site; recovery goes on in the server (wait with {@link RestoredServer#awaitPromoted}). */
    RestoredServer start(RestorePlan plan, ServerStart options);

    /** Removes everything the site holds (a scratch site after its test restore). */
    void remove();

    /** What an operator reads after the fill: what was restored, and where. */
    String describeFilled(RestorePlan plan);

    /**
     * What recovery aims at; the site supplies the restore_command.
     * @param action   promote, pause or shutdown at the target
     * @param timeline empty: latest
     * @param comment  the line above the settings in postgresql.auto.conf
     */
    record Recovery(RestoreTarget target, String action, java.util.OptionalInt timeline, String comment) {
    }

    /**
     * How the restored server runs.
     * @param scratch   a test restore's copy: socket only, trusted locally, never archiving, removed afterwards;
     *                  otherwise an operator's server: production's pg_hba.conf, on {@code port} on the loopback, left running
     * @param archiving false forces archive_mode=off (always off for a scratch copy)
     */
    record ServerStart(boolean scratch, int port, boolean archiving, java.time.Duration timeout) {
        public static ServerStart scratch(java.time.Duration timeout) {
            return new ServerStart(true, 5432, false, timeout);
        }

        public static ServerStart operator(int port, boolean archiving, java.time.Duration timeout) {
            return new ServerStart(false, port, archiving, timeout);
        }
    }
}
