package io.pgwarden.server;

import io.pgwarden.config.ServerConfig;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The Jetty server: one connector on the configured address, plain HTTP or (server.tls) HTTPS. Stopping answers new requests 503 while
 * pushes in flight finish (DrainHandler), then stops Jetty gracefully.
 */
public final class HttpServer implements AutoCloseable {
    private static final long STOP_TIMEOUT_MS = 30_000;
    /** Threads beyond the pushes': Jetty's acceptor and selectors, and the endpoints that must answer under load. */
    static final int RESERVED_THREADS = 32;

    private final Server server;
    private final ServerConnector connector;
    private final DrainHandler drain;
    private final java.util.Optional<ReloadingTls> tls;

    public HttpServer(ServerConfig config, Handler routes) {
        // Pushes hold a thread while their body arrives; at most maxConcurrentPushes run and twice as many wait for a
        // slot (WalArchiver answers 503 past that), so the rest of the pool always serves /health, /metrics and the
        // admin API, plus Jetty's own acceptor and selector threads.
        QueuedThreadPool threads = new QueuedThreadPool((1 + io.pgwarden.archive.RequestSlots.WAITERS_PER_SLOT) * config.maxConcurrentPushes() + RESERVED_THREADS, 4);
        threads.setName("http");
        server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        tls = config.tls().map(ReloadingTls::new);
        if (tls.isPresent()) {
            // No SNI host check: archive_command reaches the daemon by address (127.0.0.1) as often as by name.
            http.addCustomizer(new SecureRequestCustomizer(false, false, -1, false));
            connector = new ServerConnector(server, new SslConnectionFactory(tls.get().factory(), "http/1.1"), new HttpConnectionFactory(http));
        } else {
            connector = new ServerConnector(server, new HttpConnectionFactory(http));
        }
        connector.setHost(config.host());
        connector.setPort(config.port());
        // Jetty's own stop comes after the drain, when nothing is in flight: it closes connections idle for its
        // shutdown idle timeout (1 s, kept), so idle keep-alive connections go at once. (Holding them for the full
        // idle timeout made each stop take up to 30 s.)
        // A request that sends no byte for this long fails its read (the push is aborted, its slot freed).
        connector.setIdleTimeout(config.bodyIdleTimeout().toMillis());
        server.addConnector(connector);
        server.addBean(new NetworkConnectionLimit(config.maxConnections(), connector));
        drain = new DrainHandler(routes);
        GracefulHandler graceful = new GracefulHandler();
        graceful.setHandler(drain);
        server.setHandler(graceful);
        server.setStopTimeout(STOP_TIMEOUT_MS);
    }

    /** Reads and checks server.tls's files without serving them (check-config). */
    public static void checkTls(ServerConfig config) {
        config.tls().ifPresent(ReloadingTls::check);
    }

    public void start() throws Exception {
        server.start();
    }

    /** The bound port (useful when the config asked for port 0). */
    public int port() {
        return connector.getLocalPort();
    }

    public String host() {
        return connector.getHost();
    }

    public String scheme() {
        return tls.isPresent() ? "https" : "http";
    }

    /** New requests get 503 while those in flight finish (up to 30 s); then Jetty stops. */
    @Override
    public void close() {
        try {
            if (!drain.drain(java.time.Duration.ofMillis(STOP_TIMEOUT_MS))) {
                org.slf4j.LoggerFactory.getLogger(HttpServer.class).warn("requests still in flight after {} s; stopping anyway",
                        STOP_TIMEOUT_MS / 1000);
            }
            server.stop();
            tls.ifPresent(ReloadingTls::close);
        } catch (Exception e) {
            throw new IllegalStateException("the HTTP server did not stop cleanly: " + e, e);
        }
    }
}
