package io.pgwarden.archive;

import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.repository.WalRepository;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The daemon's WAL spools and their uploaders: one per cluster with archive.durability: spool, and one for each other
 * cluster whose spool directory an earlier configuration left (it is drained, and accepts nothing new).
 */
public final class WalSpools implements AutoCloseable {
    private final Map<String, WalSpool> all;
    private final Map<String, WalSpool> accepting;
    private final List<SpoolUploader> uploaders;

    private WalSpools(Map<String, WalSpool> all, Map<String, WalSpool> accepting, List<SpoolUploader> uploaders) {
        this.all = all;
        this.accepting = accepting;
        this.uploaders = uploaders;
    }

    public static WalSpools none() {
        return new WalSpools(Map.of(), Map.of(), List.of());
    }

    /** Opens each spool (refusing one another process holds) and starts its uploads. */
    public static WalSpools start(PgwardenConfig config, WalRepository wal, Clock clock, SpoolUploader.Listener listener) {
        if (config.server().walSpoolDir().isEmpty()) return none();
        Path root = config.server().walSpoolDir().get();
        Map<String, WalSpool> all = new LinkedHashMap<>();
        Map<String, WalSpool> accepting = new LinkedHashMap<>();
        List<SpoolUploader> uploaders = new ArrayList<>();
        WalSpools spools = new WalSpools(all, accepting, uploaders);
        try {
            for (ClusterConfig cluster : config.clusters().values()) {
                boolean spooled = cluster.archive().spooled();
                if (!spooled && !Files.isDirectory(root.resolve(cluster.name()))) continue;
                WalSpool spool = WalSpool.open(root, cluster.name(), wal, clock);
                all.put(cluster.name(), spool);
                if (spooled) accepting.put(cluster.name(), spool);
                uploaders.add(new SpoolUploader(spool, wal, listener).start(cluster.archive().uploads()));
            }
        } catch (RuntimeException e) {
            spools.close();
            throw e;
        }
        return spools;
    }

    /** The spools that take new pushes. */
    public Map<String, WalSpool> accepting() {
        return Map.copyOf(accepting);
    }

    /** Every open spool: a GET finds a file that waits in any of them. */
    public Map<String, WalSpool> all() {
        return Map.copyOf(all);
    }

    /** Stops the uploads (what waits is uploaded after the next start) and releases the directories. */
    @Override
    public void close() {
        uploaders.forEach(SpoolUploader::close);
        all.values().forEach(WalSpool::close);
    }
}
