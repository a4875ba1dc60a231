package io.pgwarden.daemon;

import io.pgwarden.pg.ServerProbe;
import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.metrics.Metrics;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks each cluster's server "SELECT 1" at a fixed interval and shows the answer as pgwarden_cluster_up, so an alert
 * on "no WAL archived for 15 minutes" can tell a stalled archive from a server that is simply down. Clusters without
 * a connection have no such gauge.
 */
final class ClusterUpProbe implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ClusterUpProbe.class);
    static final Duration INTERVAL = Duration.ofSeconds(30);

    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("cluster-up-probe").factory());

    ClusterUpProbe(PgwardenConfig config, Metrics metrics) {
        for (ClusterConfig cluster : config.clusters().values()) {
            if (cluster.connection().isEmpty()) continue;
            timer.scheduleWithFixedDelay(() -> metrics.clusterUp(cluster.name(), answers(cluster)), 0, INTERVAL.toSeconds(), TimeUnit.SECONDS);
        }
    }

    private static boolean answers(ClusterConfig cluster) {
        try (Connection c = ServerProbe.connect(cluster.connection().get()); Statement s = c.createStatement()) {
            s.execute("SELECT 1");
            return true;
        } catch (SQLException | RuntimeException e) {
            log.debug("cluster '{}': the server does not answer: {}", cluster.name(), e.getMessage());
            return false;
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
