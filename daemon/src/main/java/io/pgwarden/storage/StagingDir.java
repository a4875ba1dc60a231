package io.pgwarden.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where parts too large for the upload memory are staged on disk. The files are named like the owner's spill files
 * ({@code pgwarden-spool-OWNER-part-*.tmp}), so a restarted daemon removes those a kill left behind.
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

    Path newFile() throws IOException {
        try {
            Files.createDirectories(dir);
            return Files.createTempFile(dir, "pgwarden-spool-" + owner + "-part-", ".tmp");
        } catch (IOException e) {
            throw new StagedPart.StagingException("cannot stage an upload part in '" + dir + "': " + e, e);
        }
    }
}
