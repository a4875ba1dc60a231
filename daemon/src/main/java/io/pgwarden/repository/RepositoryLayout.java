package io.pgwarden.repository;

import io.pgwarden.config.RepositoryConfig.Compression;
import io.pgwarden.pg.WalFileName;

/**
 * The key layout (the same on S3 and on a filesystem; the storage driver adds its prefix):
 * <pre>
 * {cluster}/cluster.json
 * {cluster}/wal/{timeline}/{walfile}.{codec}
 * {cluster}/base/{backupId}/base.tar.{codec}       then manifest.json, written last (the commit marker)
 * {cluster}/failures/{kind}/{id}.json              a run that failed: when, why
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

    public static String baseBackupData(String cluster, String backupId, Compression compression) {
        return cluster + "/base/" + backupId + "/base.tar." + compression.suffix();
    }

    public static String baseBackupManifest(String cluster, String backupId) {
        return cluster + "/base/" + backupId + "/manifest.json";
    }

    public static String failureRecord(String cluster, String kind, String id) {
        return cluster + "/failures/" + kind + "/" + id + ".json";
    }

    /** Every encoding of one WAL file starts with this; the codec suffix follows. */
    public static String walNamePrefix(String cluster, WalFileName name) {
        return cluster + "/wal/" + name.timelineHex() + "/" + name.name() + ".";
    }
}
