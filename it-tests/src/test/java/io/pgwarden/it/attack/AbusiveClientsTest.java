package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.BlackHole;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Abuse a careful operator would expect the daemon to survive: pushes that trickle a byte a second, pushes that stall,
 * and a repository that accepts connections and never answers (a black hole listening on S3's port: no S3 server
 * can be made to hang like that on demand, hence this listener). Throughout, /health and /metrics answer within a
 * second, every push gets an answer in bounded time, and archiving resumes when S3 is back.
 */
class AbusiveClientsTest {
    private static final int TRICKLERS = 200;

    @Test
    void trickledPushesAndABlackHoleRepositoryNeitherStarveHealthNorHangPushes() throws Exception {
        Path dir = TestDirs.create("pgwarden-abuse-");
        S3Server s3 = new S3Server().start();
        s3.createBucket("abuse");
        // Short S3 timeouts: each push holding a slot gives up on the black hole after one 3 s attempt.
        String repository = s3.repositoryYaml("abuse", "a").replace("maxAttempts: 2", "maxAttempts: 1").replace("requestTimeout: 10s", "requestTimeout: 3s");
        try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, repository,
                "maxConcurrentPushes: 4\nbodyIdleTimeout: 2s")) {
            stalledPushesAreAbortedAndFreeTheirSlots(pgwarden);

            s3.stop();
            List<Trickler> tricklers = new ArrayList<>();
            long started = System.nanoTime();
            try (BlackHole hole = new BlackHole(s3.port())) {
                for (int i = 0; i < TRICKLERS; i++) tricklers.add(new Trickler(pgwarden.daemon().port(), "%08X.history".formatted(i + 2)));
                List<Duration> slowest = new CopyOnWriteArrayList<>();
                // Every push is answered (503: the repository does not answer) in bounded time; health never waits.
                while (tricklers.stream().anyMatch(t -> !t.answer.isDone())) {
                    assertThat(Duration.ofNanos(System.nanoTime() - started)).as("every trickled push answered").isLessThan(Duration.ofSeconds(120));
                    slowest.add(timed(pgwarden, "/health"));
                    slowest.add(timed(pgwarden, "/metrics"));
                    Thread.sleep(500);
                }
                assertThat(slowest).allSatisfy(d -> assertThat(d).isLessThan(Duration.ofSeconds(1)));
                for (Trickler t : tricklers) assertThat(t.answer.get()).startsWith("HTTP/1.1 503");
                assertThat(pgwarden.getText("/ready").statusCode()).isEqualTo(503);
            } finally {
                tricklers.forEach(Trickler::close);
            }

            s3.start(); // the same port: S3 is back
            byte[] history = "1\t0/5000000\tno recovery target specified\n".getBytes(StandardCharsets.UTF_8);
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).until(() -> pgwarden.put("00000002.history", history).statusCode() == 201
                    || pgwarden.get("00000002.history").statusCode() == 200);
            assertThat(pgwarden.get("00000002.history").body()).isEqualTo(history);
        } finally {
            s3.close();
            TestDirs.delete(dir);
        }
    }

    /** Four pushes (every slot) send a few bytes and stop: each is cut after bodyIdleTimeout, and a normal push then succeeds. */
    private static void stalledPushesAreAbortedAndFreeTheirSlots(PgwardenFixture pgwarden) throws Exception {
        List<Socket> stalled = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Socket s = new Socket(InetAddress.getLoopbackAddress(), pgwarden.daemon().port());
            s.getOutputStream().write(headers("%08X.history".formatted(100 + i), 100).getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().write("9\t0/".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            stalled.add(s);
        }
        Thread.sleep(500);
        // Retried on 503 as archive_command is: with maxAttempts 1 a pooled S3 connection the server has closed
        // fails one push with "broken pipe" (seen in CI), which PostgreSQL would simply retry.
        byte[] normal = "99\t0/5000000\tno recovery target specified\n".getBytes(StandardCharsets.UTF_8);
        List<String> answers = new ArrayList<>();
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(500)).until(() -> {
            var pushed = pgwarden.put("00000064.history", normal);
            answers.add(pushed.statusCode() + " " + pushed.body());
            assertThat(pushed.statusCode()).as("a push while every slot is stalled: %s", answers).isIn(201, 503);
            return pushed.statusCode() == 201;
        });
        assertThat(pgwarden.get("00000064.history").body()).isEqualTo(normal);
        for (Socket s : stalled) {
            s.setSoTimeout(10_000);
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(answer).as("a stalled push is answered and its connection closed").startsWith("HTTP/1.1 408 ")
                    .endsWith("arrived for 2000 ms (server.bodyIdleTimeout); nothing was stored\n");
            s.close();
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> pgwarden.metric("pgwarden_wal_push_failures_total{cluster=\"main\",reason=\"aborted\"}") >= 4);
    }

    private static Duration timed(PgwardenFixture pgwarden, String path) throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(pgwarden.baseUrl() + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(path).isEqualTo(200);
        return Duration.ofNanos(System.nanoTime() - t0);
    }

    /** A WAL push's request head for cluster 'main', sent by hand over a socket. */
    static String headers(String file, int length) {
        return "PUT /v1/clusters/main/wal/" + file + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + PgwardenFixture.TOKEN
                + "\r\nContent-Length: " + length + "\r\n\r\n";
    }

    /** The answer's status line ("HTTP/1.1 201 Created"), or "" if the connection closed first. */
    static String statusLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\r') line.append((char) c);
        return line.toString();
    }

    /** A push whose body arrives one byte a second; {@code answer} completes with the status line. */
    static final class Trickler implements AutoCloseable {
        final CompletableFuture<String> answer = new CompletableFuture<>();
        private final Socket socket;

        Trickler(int port, String file) throws IOException {
            socket = new Socket(InetAddress.getLoopbackAddress(), port);
            OutputStream out = socket.getOutputStream();
            out.write(headers(file, 200).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            Thread.ofVirtual().start(() -> {
                try {
                    for (int i = 0; i < 200 && !answer.isDone(); i++) {
                        out.write('1');
                        out.flush();
                        Thread.sleep(1000);
                    }
                } catch (IOException | InterruptedException closed) {
                    // answered and closed by the server
                }
            });
            Thread.ofVirtual().start(() -> {
                try {
                    String line = statusLine(socket.getInputStream());
                    answer.complete(line.isEmpty() ? "(closed without an answer)" : line);
                } catch (IOException e) {
                    answer.complete("(" + e + ")");
                }
            });
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // the test is over
            }
        }
    }
}
