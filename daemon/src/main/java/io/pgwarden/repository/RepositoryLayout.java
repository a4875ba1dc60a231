package io.pgwarden.repository;

import io.pgwarden.repository.codec.Compression;
import io.pgwarden.pg.WalFileName;

/**
 * The key layout (the same on S3 and on a filesystem; the storage driver adds its prefix):
 * <pre>
 * {cluster}/cluster.json
 * {cluster}/wal/{timeline}/{walfile}.{codec}
 * {cluster}/base/{backupId}/base.tar.{codec}       then manifest.json, written last (the commit marker)
 * {cluster}/dump/{database}/{dumpId}/dump.{codec}   pg_dump -Fc output, then manifest.json (database names escaped)
 * {cluster}/globals/{dumpId}/globals.sql.{codec}     pg_dumpall --globals-only output, then manifest.json
 * {cluster}/failures/{kind}/{id}.json              a run that failed: when, why
 * {cluster}/restore-test/{id}.json                 a test restore's result
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
        return baseBackupDirectory(cluster, backupId) + "base.tar." + compression.suffix();
    }

    /** PostgreSQL's backup_manifest of the backup, stored beside its tar (pgwarden's own manifest is manifest.json). */
    public static String baseBackupPgManifest(String cluster, String backupId, Compression compression) {
        return baseBackupDirectory(cluster, backupId) + "backup_manifest." + compression.suffix();
    }

    public static String baseBackupManifest(String cluster, String backupId) {
        return baseBackupDirectory(cluster, backupId) + "manifest.json";
    }

    /** Every object of one base backup lies under this prefix. */
    public static String baseBackupDirectory(String cluster, String backupId) {
        return baseRoot(cluster) + backupId + "/";
    }

    public static String dumpData(String cluster, String database, String dumpId, Compression compression) {
        return dumpDirectory(cluster, database, dumpId) + "dump." + compression.suffix();
    }

    public static String dumpManifest(String cluster, String database, String dumpId) {
        return dumpDirectory(cluster, database, dumpId) + "manifest.json";
    }

    /** Every object of one dump lies under this prefix. */
    public static String dumpDirectory(String cluster, String database, String dumpId) {
        return dumpPrefix(cluster, database) + dumpId + "/";
    }

    /** Every dump of one database lies under this prefix. */
    public static String dumpPrefix(String cluster, String database) {
        return dumpRoot(cluster) + escape(database) + "/";
    }

    public static String globalsData(String cluster, String dumpId, Compression compression) {
        return globalsDirectory(cluster, dumpId) + "globals.sql." + compression.suffix();
    }

    public static String globalsManifest(String cluster, String dumpId) {
        return globalsDirectory(cluster, dumpId) + "manifest.json";
    }

    /** Every object of one globals dump lies under this prefix. */
    public static String globalsDirectory(String cluster, String dumpId) {
        return globalsRoot(cluster) + dumpId + "/";
    }

    public static String baseRoot(String cluster) {
        return cluster + "/base/";
    }

    /** Dumps lie one level deeper than the other runs: {@code dump/{database}/{dumpId}/}. */
    public static String dumpRoot(String cluster) {
        return cluster + "/dump/";
    }

    public static String globalsRoot(String cluster) {
        return cluster + "/globals/";
    }

    /** The prefixes under which every base backup, dump and globals dump has its own run directory. */
    public static java.util.List<String> backupRoots(String cluster) {
        return java.util.List.of(baseRoot(cluster), dumpRoot(cluster), globalsRoot(cluster));
    }

    /**
     * A database name as one key segment. PostgreSQL allows any character in names; keys get only [A-Za-z0-9_-]
     * and %XX for every other UTF-8 byte ('.' too: a leading dot would be a hidden file on a filesystem repository).
     */
    public static String escape(String name) {
        StringBuilder out = new StringBuilder();
        for (byte b : name.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') out.append(c);
            else out.append('%').append("%02X".formatted(b & 0xff));
        }
        return out.toString();
    }

    public static String restoreTestRecord(String cluster, String id) {
        return restoreTestRoot(cluster) + id + ".json";
    }

    public static String restoreTestRoot(String cluster) {
        return cluster + "/restore-test/";
    }

    public static String failureRecord(String cluster, String kind, String id) {
        return cluster + "/failures/" + kind + "/" + id + ".json";
    }

    /** Every encoding of one WAL file starts with this; the codec suffix follows. */
    public static String walNamePrefix(String cluster, WalFileName name) {
        return cluster + "/wal/" + name.timelineHex() + "/" + name.name() + ".";
    }

    /** Every WAL object of one timeline of a cluster: its history file first, then its segments in order. */
    public static String walTimelinePrefix(String cluster, int timeline) {
        return walPrefix(cluster) + "%08X".formatted(timeline) + "/";
    }

    /** Every WAL object of a cluster, all timelines, in key order (timeline, then file name). */
    public static String walPrefix(String cluster) {
        return cluster + "/wal/";
    }

    /** The WAL file name a WAL object key holds ({cluster}/wal/{tli}/{name}.{codec}); empty for any other key. */
    public static java.util.Optional<WalFileName> walFileOf(String key) {
        String name = key.substring(key.lastIndexOf('/') + 1);
        int codec = name.lastIndexOf('.');
        if (codec < 0) return java.util.Optional.empty();
        try {
            return java.util.Optional.of(WalFileName.parse(name.substring(0, codec)));
        } catch (RuntimeException notWal) {
            return java.util.Optional.empty();
        }
    }
}
