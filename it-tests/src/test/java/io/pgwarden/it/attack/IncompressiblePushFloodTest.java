package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.TestDirs;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Many pushes at once (an operator raised maxConcurrentPushes to 32) of WAL that does not compress (encrypted or
 * already compressed data), each body pausing just before its encoded bytes would spill to disk. Before upload memory
 * was bounded, each held up to 8 MiB of heap: 32 of them more than the daemon's whole heap, and the daemon (its own
 * process, the launcher's default heap) died of OutOfMemoryError, losing every push in flight. Now pushes that find the
 * upload memory taken spill to disk: every push is stored, byte-identical, and the daemon lives on.
 */
class IncompressiblePushFloodTest {
    private static final int PUSHES = 32;
    private static final int SEGMENT = 16 << 20;
    /** Below the 8 MiB a push keeps in memory before it spills. */
    private static final int FIRST_PART = 7 << 20 | 512 << 10;

    @Test
    void manyPausedIncompressiblePushesAreAllStoredAndTheDaemonLives() throws Exception {
        Path dir = TestDirs.create("pgwarden-flood-");
        int port = TestDirs.freePort();
        Path config = PgwardenFixture.writeConfig(dir, "127.0.0.1:" + port, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")),
                "maxConcurrentPushes: " + PUSHES, "");
        Path log = dir.resolve("daemon.log");
        Process daemon = Launcher.startDaemon(config, log, port);
        List<Socket> sockets = new ArrayList<>();
        try {
            List<byte[]> segments = new ArrayList<>();
            for (int i = 0; i < PUSHES; i++) segments.add(incompressibleSegment(i + 1));
            for (int i = 0; i < PUSHES; i++) {
                Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
                sockets.add(s);
                s.getOutputStream().write(AbusiveClientsTest.headers(name(i + 1), SEGMENT).getBytes(StandardCharsets.US_ASCII));
                send(daemon, log, s, name(i + 1), segments.get(i), 0, FIRST_PART);
            }
            Thread.sleep(3000); // every push has received and encoded its first part, and now waits for the rest
            assertThat(daemon.isAlive()).as("daemon alive with every push paused; its log:\n%s", tail(log)).isTrue();
            // What an operator sees meanwhile: the upload memory in use, full, never beyond its capacity (32 MiB).
            HttpClient http = HttpClient.newHttpClient();
            String scrape = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            double capacity = PgwardenFixture.seriesValue(scrape, "pgwarden_upload_buffers_bytes{state=\"capacity\"}");
            assertThat(capacity).isEqualTo(32 << 20);
            assertThat(PgwardenFixture.seriesValue(scrape, "pgwarden_upload_buffers_bytes{state=\"used\"}")).isGreaterThan(capacity / 2)
                    .isLessThanOrEqualTo(capacity);

            for (int i = 0; i < PUSHES; i++) send(daemon, log, sockets.get(i), name(i + 1), segments.get(i), FIRST_PART, SEGMENT);
            for (int i = 0; i < PUSHES; i++) {
                assertThat(AbusiveClientsTest.statusLine(sockets.get(i).getInputStream())).as("push of %s; daemon log:\n%s", name(i + 1), tail(log))
                        .isEqualTo("HTTP/1.1 201 Created");
            }
            assertThat(daemon.isAlive()).isTrue();
            for (int i = 0; i < PUSHES; i++) {
                HttpResponse<byte[]> got = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/wal/" + name(i + 1)))
                        .header("Authorization", "Bearer " + PgwardenFixture.TOKEN).build(), HttpResponse.BodyHandlers.ofByteArray());
                assertThat(got.statusCode()).isEqualTo(200);
                assertThat(got.body()).as(name(i + 1)).isEqualTo(segments.get(i));
            }
            assertThat(Files.readString(log)).doesNotContain("OutOfMemoryError");
        } finally {
            for (Socket s : sockets) s.close();
            daemon.destroy();
            daemon.waitFor();
            TestDirs.delete(dir);
        }
    }

    /** Sends bytes [from, to) of a push's body; a cut connection fails the test with the daemon's state and log. */
    private static void send(Process daemon, Path log, Socket socket, String name, byte[] body, int from, int to) throws Exception {
        try {
            OutputStream out = socket.getOutputStream();
            out.write(body, from, to - from);
            out.flush();
        } catch (java.io.IOException e) {
            daemon.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            throw new AssertionError("the push of " + name + " was cut (" + e.getMessage() + "); daemon alive: " + daemon.isAlive()
                    + "; its log:\n" + tail(log), e);
        }
    }

    private static String name(int segment) {
        return "%08X%08X%08X".formatted(1, 0, segment);
    }

    /** A PostgreSQL 15 segment header (long page header: magic, timeline 1, its LSN, system, 16 MiB) over random bytes. */
    private static byte[] incompressibleSegment(int segment) {
        byte[] b = new byte[SEGMENT];
        new Random(segment).nextBytes(b);
        ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        h.putShort(0, (short) 0xD110).putShort(2, (short) 0x0002).putInt(4, 1).putLong(8, (long) segment * SEGMENT).putInt(16, 0)
                .putLong(24, 7_300_000_000_000_000_001L).putInt(32, SEGMENT).putInt(36, 8192);
        return b;
    }

    private static String tail(Path log) throws java.io.IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    }
}
