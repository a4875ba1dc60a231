package io.pgwarden.config;

import java.util.OptionalLong;

/**
 * One PostgreSQL cluster pgwarden archives.
 * @param systemIdentifier when set, pins the cluster to this system; otherwise the first accepted segment pins it
 */
public record ClusterConfig(String name, Secret walToken, OptionalLong systemIdentifier) {
}
