package io.pgwarden.runner;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.UUID;

/**
 * A fresh directory one tool run writes files into (pg_basebackup -D DIR -Ft) while this process reads them: {@link #local}
 * as this process sees it, {@link #forTool} as the tool does. In a sidecar it lies under runner.streamDir, the engine
 * binds it in ({@link #bindSource} at {@link #bindTarget}), and the tool runs as the directory's owner, so the files it
 * writes (mode 0600) are this process's to read. Closing removes it with what is in it.
 */
public final class OutputDir implements AutoCloseable {
    private final Path local;
    private final String forTool;
    private final Path removed;
    private final Optional<String> bindSource;
    private final String bindTarget;
    private final String owner;

    private OutputDir(Path local, String forTool, Path removed, Optional<String> bindSource, String bindTarget) throws IOException {
        this.local = local;
        this.forTool = forTool;
        this.removed = removed;
        this.bindSource = bindSource;
        this.bindTarget = bindTarget;
        this.owner = Files.getAttribute(local, "unix:uid") + ":" + Files.getAttribute(local, "unix:gid");
    }

    /** For a local process: a new directory in {@code parent}, named {@code prefix} and a random part. */
    static OutputDir local(Path parent, String prefix) {
        Path dir = parent.resolve(prefix + UUID.randomUUID() + ".dir");
        try {
            Files.createDirectories(parent);
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            return new OutputDir(dir, dir.toString(), dir, Optional.empty(), "");
        } catch (IOException e) {
            throw cannotCreate(dir, e);
        }
    }

    /**
     * For a sidecar: {@code runDir} (already made, named at random) holds the new directory "files".
     * @param bindSource what the engine mounts at {@code bindTarget}: a host path or a volume's name
     * @param forTool    "files" as the sidecar sees it
     */
    static OutputDir inSidecar(Path runDir, String bindSource, String bindTarget, String forTool) {
        Path dir = runDir.resolve("files");
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            return new OutputDir(dir, forTool, runDir, Optional.of(bindSource), bindTarget);
        } catch (IOException e) {
            removeTree(runDir);
            throw cannotCreate(dir, e);
        }
    }

    private static PgwardenException cannotCreate(Path dir, IOException e) {
        return new PgwardenException(ErrorCode.TOOL, "cannot make the directory '" + dir + "' for a tool's output files: " + e.getMessage()
                + "; HINT: the daemon must be able to write there", e);
    }

    public Path local() {
        return local;
    }

    public String forTool() {
        return forTool;
    }

    /** Empty for a local process. */
    Optional<String> bindSource() {
        return bindSource;
    }

    String bindTarget() {
        return bindTarget;
    }

    /** "uid:gid" of the directory: the user a sidecar runs the tool as. */
    String owner() {
        return owner;
    }

    @Override
    public void close() {
        removeTree(removed);
    }

    static void removeTree(Path dir) {
        try {
            io.pgwarden.io.FileTrees.delete(dir);
        } catch (IOException e) {
            org.slf4j.LoggerFactory.getLogger(OutputDir.class).warn("cannot remove '{}': {}", dir, e.getMessage());
        }
    }

    @Override
    public String toString() {
        return local.toString();
    }
}
