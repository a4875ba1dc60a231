package io.pgwarden.config;

import io.pgwarden.error.PgwardenException;
import java.util.Map;

/** The whole configuration, immutable once loaded. A reload builds a new one. */
public record PgwardenConfig(ServerConfig server, RepositoryConfig repository, SchedulerConfig scheduler, Map<String, ClusterConfig> clusters) {
    public PgwardenConfig {
        clusters = Map.copyOf(clusters);
    }

    public ClusterConfig cluster(String name) {
        ClusterConfig cluster = clusters.get(name);
        if (cluster == null) {
            // Not listing the configured names: this message can reach an HTTP answer.
            throw PgwardenException.notFound("cluster '" + name + "' is not configured");
        }
        return cluster;
    }
}
