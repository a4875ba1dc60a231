package io.pgwarden.it.support;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Accepts connections on a port and never reads or answers: a repository that hangs (no S3 server can be made to hang
 * like that on demand, hence this listener on S3's port while it is stopped).
 */
public final class BlackHole implements AutoCloseable {
    private final ServerSocket server;
    private final List<Socket> held = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    public BlackHole(int port) throws IOException {
        server = new ServerSocket(port, 1000, InetAddress.getLoopbackAddress());
        acceptor = Thread.ofVirtual().start(() -> {
            try {
                while (true) held.add(server.accept());
            } catch (IOException closed) {
                // the hole is closed
            }
        });
    }

    /**
     * Resets the held connections (linger 0: no TIME_WAIT left on the port, which would keep a server started on it
     * next from binding while a client's request was still waiting here).
     */
    @Override
    public void close() throws IOException {
        server.close();
        try {
            acceptor.join(5_000); // a connection accepted just now is in held before it is reset
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Socket s : held) {
            s.setSoLinger(true, 0);
            s.close();
        }
    }
}
