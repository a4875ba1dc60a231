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
 * A named pipe through which one sidecar's stdout reaches the daemon without passing through the engine: the
 * attach stream of Docker 20.10 carries about 100 MB/s, a pipe what the tool and the daemon can do. Each run gets
 * a directory of its own under {@code runner.streamDir}, named by the instance, '@' and a random UUID (not listable by
 * others: a local user cannot find the pipe to write into it), holding the pipe {@code stdout}.
 */
final class SidecarStream implements AutoCloseable {
    /** Where the sidecar sees the stream directory (or, for a host path, its run directory). */
    static final String MOUNT = "/pgwarden-stream";

    private final Path runDir;
    private final Path pipe;
    private final Bind bind;
    private final String pipeInContainer;
    private volatile boolean readerOpened;
    private volatile boolean closed;

    private SidecarStream(Path runDir, Bind bind, String pipeInContainer) {
        this.runDir = runDir;
        this.pipe = runDir.resolve("stdout");
        this.bind = bind;
        this.pipeInContainer = pipeInContainer;
    }

    static SidecarStream create(DockerSettings.StreamDir stream, String instance) throws IOException {
        String name = prefix(instance) + UUID.randomUUID();
        Files.createDirectories(stream.dir());
        Path runDir = Files.createDirectory(stream.dir().resolve(name), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
        SidecarStream created = stream.isVolume()
                ? new SidecarStream(runDir, new Bind(stream.mount(), new Volume(MOUNT)), MOUNT + "/" + name + "/stdout")
                : new SidecarStream(runDir, new Bind(stream.mount() + "/" + name, new Volume(MOUNT)), MOUNT + "/stdout");
        try {
            created.makePipe();
            return created;
        } catch (IOException | RuntimeException e) {
            created.close();
            throw e;
        }
    }

    private static String prefix(String instance) {
        return instance.replaceAll("[^A-Za-z0-9_.-]", "_") + "@"; // '@' is in no sanitised name: instance a is not a-b's prefix
    }

    /** At start, when none of this instance's runs is live: the run directories a killed daemon left behind. */
    static void removeLeftovers(DockerSettings.StreamDir stream, String instance) {
        if (!Files.isDirectory(stream.dir())) return;
        try (var runs = Files.list(stream.dir())) {
            for (Path run : runs.filter(r -> r.getFileName().toString().startsWith(prefix(instance))).toList()) {
                Files.deleteIfExists(run.resolve("stdout"));
                Files.deleteIfExists(run);
            }
        } catch (IOException e) {
            org.slf4j.LoggerFactory.getLogger(SidecarStream.class).warn("cannot remove the stream directories left in {}: {}", stream.dir(), e.getMessage());
        }
    }

    private void makePipe() throws IOException {
        // -m sets the mode exactly: the sidecar's user (often root without DAC_OVERRIDE's reach, or another uid) may write.
        Process mkfifo = new ProcessBuilder("mkfifo", "-m", "0622", pipe.toString()).redirectErrorStream(true).start();
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

    /** The pipe's path inside the sidecar. */
    String pipeInContainer() {
        return pipeInContainer;
    }

    /** Opens the pipe for reading: waits until the sidecar opens it for writing (or {@link #releaseReader} gives up). */
    InputStream open() throws IOException {
        InputStream in = new FileInputStream(pipe.toFile());
        readerOpened = true;
        return in;
    }

    /**
     * Called once the sidecar has exited: a reader still waiting for it to open the pipe (the tool never started:
     * no shell in the image, a failed redirect) would wait forever. Opening the pipe read-write never blocks and
     * counts as a writer, so the reader's open returns; closing it again gives that reader EOF.
     */
    void releaseReader() {
        while (!readerOpened && !closed) {
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
