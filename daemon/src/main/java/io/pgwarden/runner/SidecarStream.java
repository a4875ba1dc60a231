package io.pgwarden.runner;

import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Volume;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A named pipe through which one sidecar's stdout reaches the daemon, or the daemon's input reaches a sidecar's
 * stdin, without passing through the engine: the attach stream of Docker 20.10 carries about 100 MB/s, a pipe what
 * the tool and the daemon can do. Each run gets
 * a directory of its own under {@code runner.streamDir}, named by the instance, '@' and a random UUID (not listable by
 * others: a local user cannot find the pipe to write into it), holding the pipe {@code stdout}.
 */
final class SidecarStream implements AutoCloseable {
    /** Where the sidecar sees the stream directory (or, for a host path, its run directory). */
    static final String MOUNT = "/pgwarden-stream";

    /** Which way the bytes go. */
    enum Direction {
        /** The tool's stdout to the daemon: the sidecar writes the pipe (mode 0622). */
        OUT("stdout", "0622", ">"),
        /** The daemon's input to the tool's stdin: the sidecar reads the pipe (mode 0644). */
        IN("stdin", "0644", "<");

        final String file;
        final String mode;
        /** The shell's redirection of the tool to the pipe. */
        final String redirection;

        Direction(String file, String mode, String redirection) {
            this.file = file;
            this.mode = mode;
            this.redirection = redirection;
        }
    }

    private final Direction direction;
    private final Path runDir;
    private final Path pipe;
    private final Bind bind;
    private final String pipeInContainer;
    private volatile boolean daemonOpened;
    private volatile boolean closed;

    private SidecarStream(Direction direction, Path runDir, Bind bind, String pipeInContainer) {
        this.direction = direction;
        this.runDir = runDir;
        this.pipe = runDir.resolve(direction.file);
        this.bind = bind;
        this.pipeInContainer = pipeInContainer;
    }

    static SidecarStream create(DockerSettings.StreamDir stream, String instance, Direction direction) throws IOException {
        String name = prefix(instance) + UUID.randomUUID();
        Path runDir = newRunDir(stream, name);
        SidecarStream created = stream.isVolume()
                ? new SidecarStream(direction, runDir, new Bind(stream.mount(), new Volume(MOUNT)), MOUNT + "/" + name + "/" + direction.file)
                : new SidecarStream(direction, runDir, new Bind(stream.mount() + "/" + name, new Volume(MOUNT)), MOUNT + "/" + direction.file);
        try {
            created.makePipe();
            return created;
        } catch (IOException | RuntimeException e) {
            created.close();
            throw e;
        }
    }

    /**
     * A run's directory for a tool's output files instead of a pipe (see {@link OutputDir}), named and removed like a
     * pipe's, the engine binding it in the same way.
     */
    static OutputDir outputDir(DockerSettings.StreamDir stream, String instance) throws IOException {
        String name = prefix(instance) + UUID.randomUUID();
        Path runDir = newRunDir(stream, name);
        return stream.isVolume() ? OutputDir.inSidecar(runDir, stream.mount(), MOUNT, MOUNT + "/" + name + "/files")
                : OutputDir.inSidecar(runDir, stream.mount() + "/" + name, MOUNT, MOUNT + "/files");
    }

    private static Path newRunDir(DockerSettings.StreamDir stream, String name) throws IOException {
        Files.createDirectories(stream.dir());
        return Files.createDirectory(stream.dir().resolve(name), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
    }

    private static String prefix(String instance) {
        return instance.replaceAll("[^A-Za-z0-9_.-]", "_") + "@"; // '@' is in no sanitised name: instance a is not a-b's prefix
    }

    /** At start, when none of this instance's runs is live: the run directories a killed daemon left behind. */
    static void removeLeftovers(DockerSettings.StreamDir stream, String instance) {
        if (!Files.isDirectory(stream.dir())) return;
        try (var runs = Files.list(stream.dir())) {
            for (Path run : runs.filter(r -> r.getFileName().toString().startsWith(prefix(instance))).toList()) OutputDir.removeTree(run);
        } catch (IOException e) {
            org.slf4j.LoggerFactory.getLogger(SidecarStream.class).warn("cannot remove the stream directories left in {}: {}", stream.dir(), e.getMessage());
        }
    }

    private void makePipe() throws IOException {
        // -m sets the mode exactly: the sidecar's user (root, or another uid such as a restore's postgres) may use it;
        // others cannot find it (the run directory is not listable and its name random).
        Process mkfifo = new ProcessBuilder("mkfifo", "-m", direction.mode, pipe.toString()).redirectErrorStream(true).start();
        try {
            String out = new String(mkfifo.getInputStream().readAllBytes()).strip();
            if (!mkfifo.waitFor(10, TimeUnit.SECONDS) || mkfifo.exitValue() != 0) {
                throw new IOException("mkfifo " + pipe + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while making the named pipe " + pipe);
        }
    }

    Bind bind() {
        return bind;
    }

    /** The shell's redirection of the tool to the pipe inside the sidecar, e.g. {@code > /pgwarden-stream/stdout}. */
    String redirection() {
        return direction.redirection + " " + pipeInContainer;
    }

    String pipeInContainer() {
        return pipeInContainer;
    }

    /** Opens the pipe to read the tool's stdout: waits until the sidecar opens it (or {@link #release} gives up). */
    InputStream openForReading() throws IOException {
        InputStream in = new FileInputStream(pipe.toFile());
        daemonOpened = true;
        return in;
    }

    /** Opens the pipe to feed the tool's stdin: waits until the sidecar opens it (or {@link #release} gives up). */
    java.io.OutputStream openForWriting() throws IOException {
        java.io.OutputStream out = new java.io.FileOutputStream(pipe.toFile());
        daemonOpened = true;
        return out;
    }

    /**
     * Called once the sidecar has exited: the daemon's side still waiting for it to open the pipe (the tool never
     * started: no shell in the image, a failed redirect) would wait forever. Opening the pipe read-write never blocks
     * and counts as both ends, so the daemon's open returns; closing it again gives a reader EOF, a writer EPIPE.
     */
    void release() {
        while (!daemonOpened && !closed) {
            try (RandomAccessFile writer = new RandomAccessFile(pipe.toFile(), "rw")) {
                Thread.sleep(100);
            } catch (IOException gone) {
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            Files.deleteIfExists(pipe);
            Files.deleteIfExists(runDir);
        } catch (IOException e) {
            org.slf4j.LoggerFactory.getLogger(SidecarStream.class).warn("cannot remove the sidecar's stream directory {}: {}", runDir, e.getMessage());
        }
    }
}
