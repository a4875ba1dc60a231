package io.pgwarden.config;

import java.util.Optional;

/**
 * Where PostgreSQL client tools run. Docker: a sidecar per run from {@code image} ("{major}" = the server's major
 * version) on {@code network} ({@code host}, {@code container:<name>} or a network name). Process: local binaries.
 */
public record RunnerConfig(Type type, String image, String network, Pull pull, Optional<Long> memoryBytes,
                           Optional<Double> cpus, Optional<String> dockerHost, String binDir) {
    public enum Type { DOCKER, PROCESS }

    public enum Pull { IF_ABSENT, NEVER }

    public static final String DEFAULT_IMAGE = "postgres:{major}";
    public static final String DEFAULT_BIN_DIR = "/usr/lib/postgresql/{major}/bin";

    public static RunnerConfig defaultProcess() {
        return new RunnerConfig(Type.PROCESS, DEFAULT_IMAGE, "host", Pull.IF_ABSENT, Optional.empty(), Optional.empty(),
                Optional.empty(), DEFAULT_BIN_DIR);
    }
}
