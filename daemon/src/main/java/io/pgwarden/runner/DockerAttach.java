package io.pgwarden.runner;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * A tool's stdio through the Docker API's attach endpoint, on a connection of our own: the backup's bytes are the
 * bulk of a run, and docker-java's attach hands them over in 1 KiB frames through a JNA socket (a base backup
 * through a sidecar ran at 0.35x the shell pipeline, a restore into a volume fed stdin at about 20 MB/s). Here
 * the multiplexed stream is read in large reads straight into the consumer's buffer, stdin is written in large
 * writes, and the end of stdin is a half-close (so a sidecar sees EOF, which docker-java never gave it).
 * <p>Protocol: {@code POST /containers/ID/attach?stream=1&stdout=1&stderr=1[&stdin=1]} with {@code Upgrade: tcp};
 * the engine answers 101 and the connection then carries frames of an 8-byte header (stream type, 3 zero bytes,
 * big-endian length) and the payload; stdin goes the other way unframed.
 */
final class DockerAttach implements AutoCloseable {
    private static final int BUFFER = 256 << 10;
    /** The engine's reply headers, at most: a longer one is not an engine's. */
    private static final int MAX_REPLY = 16 << 10;

    private final Connection connection;
    private final InputStream in;
    private volatile Thread feeder;

    private DockerAttach(Connection connection) throws IOException {
        this.connection = connection;
        this.in = new BufferedInputStream(connection.input(), BUFFER);
    }

    /** The two ends of a connection to the engine, and how to end the writing one alone. */
    interface Connection extends AutoCloseable {
        InputStream input() throws IOException;

        OutputStream output() throws IOException;

        void shutdownOutput() throws IOException;

        @Override
        void close() throws IOException;
    }

    /**
     * Attaches to a created container (before it starts, so no output is missed and none is replayed).
     * @param dockerHost {@code unix:///path} or {@code tcp://host:port}
     * @param tls        for {@code tcp://} with TLS, the engine's client context; else null
     */
    static DockerAttach open(String dockerHost, SSLContext tls, String containerId, boolean stdin) throws IOException {
        DockerAttach attach = new DockerAttach(connect(dockerHost, tls));
        try {
            attach.upgrade(containerId, stdin);
            return attach;
        } catch (IOException | RuntimeException e) {
            attach.close();
            throw e;
        }
    }

    private static Connection connect(String dockerHost, SSLContext tls) throws IOException {
        URI uri = URI.create(dockerHost);
        switch (uri.getScheme()) {
            case "unix" -> {
                SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(uri.getPath()));
                return new Connection() {
                    public InputStream input() {
                        return Channels.newInputStream(channel);
                    }

                    public OutputStream output() {
                        return Channels.newOutputStream(channel);
                    }

                    public void shutdownOutput() throws IOException {
                        channel.shutdownOutput();
                    }

                    public void close() throws IOException {
                        channel.close();
                    }
                };
            }
            case "tcp" -> {
                Socket socket = tls == null ? new Socket() : tls.getSocketFactory().createSocket();
                socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 5_000);
                if (socket instanceof SSLSocket ssl) ssl.startHandshake();
                return new Connection() {
                    public InputStream input() throws IOException {
                        return socket.getInputStream();
                    }

                    public OutputStream output() throws IOException {
                        return socket.getOutputStream();
                    }

                    public void shutdownOutput() throws IOException {
                        // TLS has no half-close: the sidecar's stdin ends when its input is complete only for tools
                        // that stop at their own end marker (tar's end blocks); see VolumeRestorer.
                        if (!(socket instanceof SSLSocket)) socket.shutdownOutput();
                    }

                    public void close() throws IOException {
                        socket.close();
                    }
                };
            }
            default -> throw new IOException("docker host '" + dockerHost + "': only unix:// and tcp:// engines can be attached to");
        }
    }

    private void upgrade(String containerId, boolean stdin) throws IOException {
        if (!containerId.matches("[A-Za-z0-9_.-]+")) throw new IllegalArgumentException("not a container id: " + containerId);
        String request = "POST /containers/" + containerId + "/attach?stream=1&stdout=1&stderr=1" + (stdin ? "&stdin=1" : "")
                + " HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
        OutputStream out = connection.output();
        out.write(request.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        String reply = readReplyHead();
        String status = reply.lines().findFirst().orElse("");
        if (!status.matches("HTTP/1\\.[01] 101 .*")) {
            throw new IOException("the Docker engine refused to attach to container " + DockerEngine.shortId(containerId) + ": " + status);
        }
        // The stream is multiplexed: pgwarden creates its sidecars without a TTY (engines before API 1.42 call it
        // raw-stream in the reply all the same).
    }

    /** The reply's status line and headers, up to the blank line; the stream follows. */
    private String readReplyHead() throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) throw new EOFException("the Docker engine closed the attach connection before answering");
            if (head.length() > MAX_REPLY) throw new IOException("the Docker engine's attach reply has no end of headers");
            head.append((char) c);
        }
        return head.toString();
    }

    /**
     * Feeds {@code stdin} to the container in a virtual thread, then half-closes it. The feed ends quietly when the
     * container is gone (its input is then no longer wanted) or this attach is closed, and closes {@code stdin}.
     */
    void feed(InputStream stdin) {
        feeder = Thread.ofVirtual().name("sidecar-stdin").start(() -> {
            try (stdin) { // closed however the feed ends: its producer must not wait for a reader that stopped
                OutputStream out = connection.output();
                byte[] buf = new byte[BUFFER];
                int n;
                while ((n = stdin.read(buf)) >= 0) out.write(buf, 0, n);
                out.flush();
                connection.shutdownOutput();
            } catch (IOException containerOrAttachGone) {
                // the run's result says what happened
            }
        });
    }

    /**
     * The container's stdout as a stream, read straight from the connection; stderr frames met on the way go to
     * {@code stderr}. Ends when the container's output ends.
     */
    InputStream stdout(StderrTail stderr) {
        return new InputStream() {
            private long remaining;
            private boolean ended;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) return 0;
                while (remaining == 0) {
                    if (ended || !nextStdoutFrame()) {
                        ended = true;
                        return -1;
                    }
                }
                int n = in.read(b, off, (int) Math.min(len, remaining));
                if (n < 0) throw new EOFException("the Docker engine ended a frame of the sidecar's output early");
                remaining -= n;
                return n;
            }

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
            }

            /** Skips to the next stdout frame, passing stderr frames on; false at the end of the stream. */
            private boolean nextStdoutFrame() throws IOException {
                byte[] header = new byte[8];
                while (true) {
                    int got = in.readNBytes(header, 0, 8);
                    if (got == 0) return false;
                    if (got < 8) throw new EOFException("the Docker engine ended the sidecar's output inside a frame header");
                    long length = ((header[4] & 0xFFL) << 24) | ((header[5] & 0xFF) << 16) | ((header[6] & 0xFF) << 8) | (header[7] & 0xFF);
                    switch (header[0]) {
                        case 1 -> {
                            if (length == 0) continue;
                            remaining = length;
                            return true;
                        }
                        case 2 -> {
                            byte[] text = new byte[(int) Math.min(length, 8192)];
                            for (long left = length; left > 0; ) {
                                int n = in.read(text, 0, (int) Math.min(left, text.length));
                                if (n < 0) throw new EOFException("the Docker engine ended a frame of the sidecar's stderr early");
                                stderr.accept(text, 0, n);
                                left -= n;
                            }
                        }
                        default -> throw new IOException("the Docker engine sent a frame of stream type " + header[0] + " on an attach");
                    }
                }
            }
        };
    }

    @Override
    public void close() {
        Thread f = feeder;
        if (f != null) f.interrupt(); // a feeder waiting for input that will not come
        try {
            connection.close();
        } catch (IOException ignored) {
            // nothing left to release
        }
    }
}
