package io.pgwarden.it.support;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Small tmpfs mounts for disk-full tests (root on this machine kind may mount them). */
public final class Tmpfs {
    private Tmpfs() {
    }

    /**
     * Mounts a tmpfs of {@code size} (e.g. "6m") at a new directory. Where this machine refuses mounts (a container
     * without the privilege) the test is skipped saying so, rather than failing for a reason of the machine's.
     */
    public static Path mount(Path dir, String size) throws Exception {
        Files.createDirectories(dir);
        Processes.Result r = Processes.run(List.of("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString()), null);
        org.junit.jupiter.api.Assumptions.assumeTrue(r.exitCode() == 0, "this machine cannot mount a tmpfs: " + r.stderr().strip());
        return dir;
    }

    /** Grows a mount made by {@link #mount} (a full disk that gets room again). */
    public static void grow(Path dir, String size) {
        Processes.checked(Processes.run(List.of("mount", "-o", "remount,size=" + size, dir.toString()), null), "grow tmpfs");
    }

    public static void unmount(Path dir) {
        Processes.run(List.of("umount", "-l", dir.toString()), null);
    }
}
