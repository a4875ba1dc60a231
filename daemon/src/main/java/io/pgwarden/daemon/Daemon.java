package io.pgwarden.daemon;

import io.pgwarden.archive.WalArchiver;
import io.pgwarden.archive.WalFetcher;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.server.HttpServer;
import io.pgwarden.server.Routes;
import io.pgwarden.server.WalEndpoint;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: builds storage → repository → services → HTTP server, and stops them in reverse.
 * Stopping lets in-flight WAL pushes finish (Jetty graceful stop) before the repository closes.
 */
public final class Daemon implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Daemon.class);

    private final StorageDriver storage;
    private final Metrics metrics;
    private final HttpServer http;

    private Daemon(StorageDriver storage, Metrics metrics, HttpServer http) {
        this.storage = storage;
        this.metrics = metrics;
        this.http = http;
    }

    public static Daemon start(PgwardenConfig config, Clock clock) throws Exception {
        StorageDriver storage = StorageFactory.create(config.repository());
        if (storage instanceof io.pgwarden.storage.FilesystemStorage fs) fs.createRoot();
        Metrics metrics = new Metrics(clock);
        config.clusters().keySet().forEach(metrics::registerCluster);
        WalRepository wal = new WalRepository(storage, config.repository());
        WalArchiver archiver = new WalArchiver(config, new ClusterInfoStore(storage), wal, clock);
        WalEndpoint endpoint = new WalEndpoint(config, archiver, new WalFetcher(config, wal), metrics);
        HttpServer http = new HttpServer(config.server(), new Routes(endpoint, metrics, storage));
        try {
            http.start();
        } catch (Exception e) {
            storage.close();
            throw new io.pgwarden.error.PgwardenException(io.pgwarden.error.ErrorCode.CONFIG,
                    "cannot listen on " + config.server().host() + ":" + config.server().port() + ": " + e.getMessage(), e);
        }
        checkRepository(storage);
        log.info("pgwarden listening on http://{}:{}, repository {}, clusters {}", http.host(), http.port(),
                storage.describe(), config.clusters().keySet());
        return new Daemon(storage, metrics, http);
    }

    /** An unreachable repository is not fatal at start (it may come back); /ready says so meanwhile. */
    private static void checkRepository(StorageDriver storage) {
        try {
            storage.checkReachable();
        } catch (RuntimeException e) {
            log.warn("repository {} is not reachable yet; WAL pushes answer 503 until it is: {}", storage.describe(), e.getMessage());
        }
    }

    public int port() {
        return http.port();
    }

    public Metrics metrics() {
        return metrics;
    }

    @Override
    public void close() {
        log.info("pgwarden stopping: finishing in-flight requests");
        try {
            http.close();
        } catch (RuntimeException e) {
            log.warn("{}", e.getMessage());
        }
        metrics.close();
        storage.close();
        log.info("pgwarden stopped");
    }
}
