package io.pgwarden.server;

import io.pgwarden.config.ServerConfig;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/** The Jetty server: one plain HTTP connector on the configured address; graceful stop lets pushes finish. */
public final class HttpServer implements AutoCloseable {
    private static final long STOP_TIMEOUT_MS = 30_000;

    private final Server server;
    private final ServerConnector connector;

    public HttpServer(ServerConfig config, Handler routes) {
        QueuedThreadPool threads = new QueuedThreadPool(64, 4);
        threads.setName("http");
        server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        connector = new ServerConnector(server, new HttpConnectionFactory(http));
        connector.setHost(config.host());
        connector.setPort(config.port());
        // On stop Jetty closes every connection that stays idle for its shutdown idle timeout (1 s, kept): idle
        // keep-alive connections go at once, and a push still sending its body finishes. A client that sends nothing
        // for a second during the stop is cut; that push is not acknowledged, so PostgreSQL retries it. (Holding
        // every idle connection open for the full idle timeout made each stop take up to 30 s.)
        server.addConnector(connector);
        GracefulHandler graceful = new GracefulHandler();
        graceful.setHandler(routes);
        server.setHandler(graceful);
        server.setStopTimeout(STOP_TIMEOUT_MS);
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

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            throw new IllegalStateException("the HTTP server did not stop cleanly: " + e, e);
        }
    }
}
