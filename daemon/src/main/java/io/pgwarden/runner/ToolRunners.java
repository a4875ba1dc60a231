package io.pgwarden.runner;

import io.pgwarden.config.RunnerConfig;

/** Builds the runner a cluster's config names. */
public final class ToolRunners {
    private ToolRunners() {
    }

    /** @param instance this daemon's id, carried by every sidecar so its orphans can be found after a crash */
    public static ToolRunner create(RunnerConfig config, String instance) {
        return switch (config.type()) {
            case PROCESS -> new ProcessToolRunner(config.binDir());
            case DOCKER -> new DockerToolRunner(new DockerSettings(config.dockerHost(), config.image(), config.network(),
                    config.pull(),
                    config.memoryBytes(), config.cpus(), instance, config.streamDir().map(d -> new DockerSettings.StreamDir(
                    java.nio.file.Path.of(d), config.streamMount().orElseThrow()))));
        };
    }
}
