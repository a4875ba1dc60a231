package io.pgwarden.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a process keeps transient files of its own on disk: parts too large for the upload memory, WAL spill files,
 * a base backup's manifest copies. All are named {@code pgwarden-spool-OWNER-*.tmp}, so a restarted daemon removes
 * those a kill left behind.
 *
 * @param dir   the directory (server.spoolDir for the daemon)
 * @param owner the process's name for its files (the daemon's instance)
 */
public record StagingDir(Path dir, String owner) {
    /** For a process without a configured spool: the system's temporary directory, named by the process id. */
    public static StagingDir temporary() {
        return temporaryIn(Path.of(System.getProperty("java.io.tmpdir")));
    }

    /** For a short-lived process: its files in {@code dir}, named by its process id. */
    public static StagingDir temporaryIn(Path dir) {
        return new StagingDir(dir, "pid" + ProcessHandle.current().pid());
    }

    /** The start of every file name of {@code owner}'s. */
    public static String filePrefix(String owner) {
        return "pgwarden-spool-" + owner + "-";
    }

    /** A new empty file in the directory (created if missing), its name saying what it holds, e.g. "part". */
    public Path newFile(String purpose) throws IOException {
        Files.createDirectories(dir);
        return Files.createTempFile(dir, filePrefix(owner) + purpose + "-", ".tmp");
    }
}
