package io.pgwarden.repository;

import io.pgwarden.config.RepositoryConfig.Compression;
import io.pgwarden.pg.WalFileName;

/**
 * The key layout (the same on S3 and on a filesystem; the storage driver adds its prefix):
 * <pre>
 * {cluster}/cluster.json
 * {cluster}/wal/{timeline}/{walfile}.{codec}
 * </pre>
 * This class is the only place that spells keys.
 */
public final class RepositoryLayout {
    private RepositoryLayout() {
    }

    public static String clusterInfo(String cluster) {
        return cluster + "/cluster.json";
    }

    public static String walKey(String cluster, WalFileName name, Compression compression) {
        return walNamePrefix(cluster, name) + compression.suffix();
    }

    /** Every encoding of one WAL file starts with this; the codec suffix follows. */
    public static String walNamePrefix(String cluster, WalFileName name) {
        return cluster + "/wal/" + name.timelineHex() + "/" + name.name() + ".";
    }
}
