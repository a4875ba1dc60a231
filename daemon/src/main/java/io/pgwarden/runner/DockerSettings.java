package io.pgwarden.runner;

import io.pgwarden.config.RunnerConfig;
import java.util.Optional;

/**
 * How sidecars are run.
 * @param image      image template, "{major}" replaced by the server's major version, e.g. {@code postgres:{major}}
 * @param network    {@code host}, {@code container:<name>} (share the server's network namespace) or a network name
 * @param pull       pull the image when it is absent, or never pull
 * @param instance   this daemon's id: sidecars carry it in {@code io.pgwarden.instance}, orphans are found by it
 * @param stream     where sidecars write their output through a named pipe; empty: through the attach stream
 */
public record DockerSettings(Optional<String> dockerHost, String image, String network, RunnerConfig.Pull pull,
                             Optional<Long> memoryBytes, Optional<Double> cpus, String instance, Optional<StreamDir> stream) {
    /**
     * @param dir   the directory as the daemon sees it
     * @param mount the same directory as the engine mounts it: an absolute host path, or a volume's name
     */
    public record StreamDir(java.nio.file.Path dir, String mount) {
        public boolean isVolume() {
            return !mount.startsWith("/");
        }
    }

    public static final String LABEL_INSTANCE = "io.pgwarden.instance";
    public static final String LABEL_JOB = "io.pgwarden.job";
    public static final String LABEL_RUN = "io.pgwarden.run";

    public String imageFor(int major) {
        return image.replace("{major}", Integer.toString(major));
    }
}
