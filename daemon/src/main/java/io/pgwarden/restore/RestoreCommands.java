package io.pgwarden.restore;

import io.pgwarden.archive.SpoolPrefetcher;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** The restore_command a restored server uses: pgwarden wal-fetch (no daemon needed) or curl to the daemon. */
public final class RestoreCommands {
    private RestoreCommands() {
    }

    /** Where the standalone restore_command keeps segments fetched ahead: relative to the data directory, its cwd. */
    public static final String SPOOL = "pg_wal/pgwarden-spool";

    /**
     * Exit status 126 for a restore_command that could not say whether the file is archived. PostgreSQL reads 1 to 125
     * as "not in the archive" and ends the recovery there: a restore to the latest point would be promoted early,
     * silently, on a repository outage or a corrupt object. Above 125 it stops the recovery (FATAL) instead, and the data
     * directory can be started again once the repository answers.
     */
    static final int STOP_RECOVERY = 126;

    /**
     * {@code pgwarden wal-fetch} through the launcher this process was started by, with {@link #SPOOL}: a segment found
     * there is moved into place with no process started; otherwise the shell part starts the background prefetcher
     * ({@link SpoolPrefetcher}, whose file names it uses; that segment first) unless one runs, and waits for the segment (up to
     * 30 s, while that process lives and has not marked it failed; and once more after it ended, which it may do right
     * after fetching the last segment the archive has), the request noted in {@code .wanted} for it to follow. Inside
     * pg_wal the spool is on the same filesystem as %p (the move is a rename), and PostgreSQL's WAL recycling and
     * pg_basebackup leave a directory there alone. Otherwise wal-fetch fetches the file: its exit 1 (not archived) passes; any other failure stops the
     * recovery ({@link #STOP_RECOVERY}).
     */
    public static String standalone(Path configFile, String cluster) {
        String launcher = System.getProperty("pgwarden.launcher", "pgwarden");
        String walFetch = literal(launcher) + " wal-fetch --config " + literal(configFile.toAbsolutePath().normalize().toString())
                + " --cluster " + literal(cluster) + " --spool " + SPOOL;
        // The prefetcher's own file names, so that both sides agree.
        String pid = SPOOL + "/" + SpoolPrefetcher.PID;
        String wanted = SPOOL + "/" + SpoolPrefetcher.WANTED;
        String take = "if [ -f " + SPOOL + "/%f ] && mv -f " + SPOOL + "/%f %p; then exit 0; fi; ";
        String prefetcherLives = "kill -0 \"$(cat " + pid + " 2>/dev/null)\" 2>/dev/null";
        // Started here rather than by a wal-fetch JVM: one JVM start on the recovery's path, not two in a row. Not when
        // the archive ended at this very segment on the last call (a standby asking again and again).
        String startPrefetcher = "if ! " + prefetcherLives + " && [ \"$(cat " + SPOOL + "/" + SpoolPrefetcher.ENDED
                + " 2>/dev/null)\" != %f ] && mkdir -p " + SPOOL + " && chmod 700 " + SPOOL + "; then echo %f > " + wanted + "; "
                + "PGWARDEN_JAVA_OPTS=\"-XX:TieredStopAtLevel=4 ${PGWARDEN_JAVA_OPTS:-}\" " + walFetch + " --prefetch --first %f </dev/null >>"
                + SPOOL + "/" + SpoolPrefetcher.LOG + " 2>&1 & echo $! > " + pid + "; fi; ";
        String waitForPrefetcher = "if [ -f " + pid + " ]; then echo %f > " + wanted + "; i=0; "
                + "while [ $i -lt 600 ] && [ ! -f " + SPOOL + "/" + SpoolPrefetcher.FAILED + "%f ] && " + prefetcherLives + "; do " + take
                + "sleep 0.05; i=$((i+1)); done; " + take + "fi; ";
        // The fetch of its own, when no prefetcher delivered: it starts none (the next call's shell part does).
        return take + "case %f in *.*) ;; *) " + startPrefetcher + waitForPrefetcher + ";; esac; " + walFetch + " --ahead 0 %f %p; "
                + "rc=$?; if [ $rc -le 1 ]; then exit $rc; fi; " + stopRecovery("pgwarden wal-fetch exited with $rc");
    }

    private static String stopRecovery(String why) {
        return "echo \"pgwarden restore_command: %f: " + why + "; stopping the recovery rather than ending it before the archive"
                + " does\" >&2; exit " + STOP_RECOVERY;
    }

    /**
     * Where {@link #viaDaemon} keeps the token for a restore into dataDir: beside the directory, not inside it (a later
     * base backup of the restored server must not carry the token).
     */
    public static Path headerFileBeside(Path dataDir) {
        Path dir = dataDir.toAbsolutePath().normalize();
        return dir.resolveSibling(dir.getFileName() + ".pgwarden-auth-header");
    }

    /**
     * curl to the daemon at server.listen; the token goes into {@code headerFile} (0600), never into the server's
     * configuration, where pg_settings would show it. The server's user must own it (see {@link #headerFileBeside}).
     */
    public static String viaDaemon(PgwardenConfig config, String cluster, Path headerFile) {
        try {
            Files.deleteIfExists(headerFile);
            Files.createFile(headerFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(headerFile, "Authorization: Bearer " + config.cluster(cluster).walToken().value() + "\n");
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.USAGE, "cannot write '" + headerFile + "': " + e.getMessage());
        }
        var tls = config.server().tls();
        if (tls.isPresent() && tls.get().clientCa().isPresent()) {
            throw new PgwardenException(ErrorCode.CONFIG, "server.tls.clientCa requires a client certificate the restored server does not"
                    + " have: fetch WAL with 'pgwarden wal-fetch' instead (restore --restore-command standalone)");
        }
        // With TLS, curl trusts the daemon's own certificate file (curl accepts a leaf or intermediate as the anchor).
        String cacert = tls.map(t -> "--cacert " + literal(t.certificate().toAbsolutePath().toString()) + " ").orElse("");
        // 200: fetched; 404: not archived (exit 1, the archive's end); anything else (the daemon down, 503 while the
        // repository is, 500 for a corrupt object) stops the recovery. %% is PostgreSQL's escape for curl's %.
        return "code=$(curl -sS " + cacert + "-H @" + literal(headerFile.toString()) + " -o %p -w '%%{http_code}' " + config.server().localBaseUrl()
                + "/v1/clusters/" + cluster + "/wal/%f); rc=$?; if [ $rc = 0 ] && [ \"$code\" = 200 ]; then exit 0; fi; rm -f %p; "
                + "if [ $rc = 0 ] && [ \"$code\" = 404 ]; then exit 1; fi; " + stopRecovery("the daemon answered HTTP $code (curl exit $rc)");
    }

    /** A word of restore_command: shell-quoted, and '%' doubled (PostgreSQL replaces %f, %p, %r before the shell runs it). */
    static String literal(String s) {
        return shellQuote(s).replace("%", "%%");
    }

    static String shellQuote(String s) {
        return s.matches("[A-Za-z0-9_./:@=+-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }
}
