package io.pgwarden.restore;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.Encoding;
import io.pgwarden.storage.StorageDriver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.IntFunction;

/**
 * A restore into a directory on this host, its server started with the host's binaries. An operator's directory is
 * the data directory itself; a scratch site is a directory of its own holding the data directory, the server log and
 * the WAL token, all removed with it.
 */
public final class DirectorySite implements RestoreSite {
    private final StorageDriver storage;
    private final Encoding encoding;
    private final Path root;
    private final Path data;
    private final String restoreCommand;
    private final IntFunction<Path> binDirs;
    private final java.util.Optional<ChainCombiner> combiner;
    private Path sockets;

    /**
     * @param root           the directory the site owns (the data directory itself, or a scratch directory holding it)
     * @param restoreCommand how the restored server fetches WAL (pgwarden wal-fetch, or curl to the daemon)
     * @param binDirs        the server binaries for a PostgreSQL major version
     * @param combiner       joins an incremental chain; empty: the plan has none
     */
    DirectorySite(StorageDriver storage, Encoding encoding, Path root, Path data, String restoreCommand, IntFunction<Path> binDirs,
                  java.util.Optional<ChainCombiner> combiner) {
        this.storage = storage;
        this.encoding = encoding;
        this.root = root;
        this.data = data;
        this.restoreCommand = restoreCommand;
        this.binDirs = binDirs;
        this.combiner = combiner;
    }

    /** The data directory. */
    public Path dataDir() {
        return data;
    }

    @Override
    public void fill(RestorePlan plan, Recovery recovery, Progress progress) {
        new Restorer(storage, encoding, combiner).restore(plan, data, new RecoverySettings(restoreCommand, recovery.target(), recovery.action(),
                recovery.timeline(), recovery.comment()), progress);
    }

    @Override
    public RestoredServer start(RestorePlan plan, ServerStart options) {
        Path bin = binDirs.apply(plan.backup().pgVersionNum() / 10000);
        LocalServer server;
        try {
            if (options.scratch()) {
                // The scratch copy is reached through its own socket only: production's pg_hba.conf does not apply to it.
                Files.writeString(data.resolve("pg_hba.conf"), "local all all trust\n");
                sockets = LocalServer.socketDirectory(root, options.port());
                LocalServer.handOverToPostgres(root, sockets);
                server = new LocalServer(bin, data, root.resolve("server.log"), sockets, options.port(), "", false);
            } else {
                // The token file of a restore_command through the daemon too: unreadable to the server, every fetch
                // would be a 401, and the recovery would stop at its first file.
                Path header = RestoreCommands.headerFileBeside(data);
                if (Files.exists(header)) LocalServer.handOverToPostgres(data, header);
                else LocalServer.handOverToPostgres(data);
                server = new LocalServer(bin, data, data.resolve("restore.log"), data, options.port(), "localhost", options.archiving());
            }
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.INTERNAL, "cannot prepare '" + data + "' for its server: " + e.getMessage(), e);
        }
        server.start(options.timeout());
        if (!options.scratch()) server.detach(); // an operator's server outlives this process
        return server;
    }

    @Override
    public void remove() {
        Restorer.deleteTree(root, true);
        if (sockets != null) Restorer.deleteTree(sockets, true);
    }

    @Override
    public String describeFilled(RestorePlan plan) {
        return "restored base backup " + plan.backup().backupId() + (plan.parents().isEmpty() ? "" : " (incremental, combined with "
                + String.join(", ", plan.parentIds()) + ")") + " into " + data + "; recovery.signal and the recovery settings"
                + " (end of postgresql.auto.conf) are written";
    }
}
