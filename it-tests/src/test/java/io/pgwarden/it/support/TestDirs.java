package io.pgwarden.it.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;

/** Scratch directories the postgres user can use (JUnit's @TempDir is 0700 root). */
public final class TestDirs {
    private TestDirs() {
    }

    public static Path create(String prefix) {
        try {
            Path dir = Files.createTempDirectory(prefix);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A directory owned by postgres (for data directories and backups). */
    public static Path forPostgres(Path parent, String name) {
        try {
            Path dir = Files.createDirectories(parent.resolve(name));
            if (Processes.isRoot()) Processes.checked(Processes.run(java.util.List.of("chown", "postgres:postgres", dir.toString()), null), "chown");
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void delete(Path dir) {
        if (dir == null || !Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort
        }
    }

    /*
     * Ports below the kernel's ephemeral range (32768-60999 here): a port taken from that range is free when a daemon
     * first binds it, but once a test kills that daemon any outgoing connection on the machine may get it as its
     * source port (or leave it in TIME_WAIT), and the restart on the same port fails to bind (seen in CI after a
     * kill -9). Each surefire fork draws from its own block so parallel forks never hand out the same port.
     */
    private static final int PORTS_FROM = 20000, PORTS_PER_FORK = 3000;
    private static final java.util.concurrent.atomic.AtomicInteger NEXT_PORT =
            new java.util.concurrent.atomic.AtomicInteger(new java.util.Random().nextInt(PORTS_PER_FORK));

    public static int freePort() {
        int block = PORTS_FROM + forkIndex() * PORTS_PER_FORK;
        for (int attempt = 0; attempt < PORTS_PER_FORK; attempt++) {
            int port = block + Math.floorMod(NEXT_PORT.getAndIncrement(), PORTS_PER_FORK);
            try (var s = new java.net.ServerSocket()) {
                s.setReuseAddress(false);
                s.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port));
                return port;
            } catch (IOException inUse) {
                // try the next one
            }
        }
        throw new IllegalStateException("no free port in " + block + ".." + (block + PORTS_PER_FORK - 1));
    }

    private static int forkIndex() {
        try {
            return Math.floorMod(Integer.parseInt(System.getProperty("pgwarden.it.fork", "1")) - 1, 4);
        } catch (NumberFormatException notForked) {
            return 0;
        }
    }
}
