package io.pgwarden.cli;

import io.pgwarden.config.ConfigLoader;
import io.pgwarden.config.PgwardenConfig;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --config FILE --cluster NAME}: what every command that works on one cluster starts from (a picocli mixin). */
final class ClusterOptions {
    @Option(names = "--config", required = true, description = "the YAML configuration file")
    Path config;

    @Option(names = "--cluster", required = true, description = "the cluster name in the configuration")
    String cluster;

    /** The configuration, validated (exit 2 with every problem otherwise). */
    PgwardenConfig load() {
        return ConfigLoader.load(config);
    }
}
