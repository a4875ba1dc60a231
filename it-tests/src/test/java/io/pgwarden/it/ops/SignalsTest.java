package io.pgwarden.it.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The daemon as systemd runs it (bin/pgwarden run, a real process) and stops it: SIGHUP is logged and ignored;
 * SIGTERM while a WAL push is half sent lets that push finish and be stored, refuses new pushes, and exits 0.
 */
class SignalsTest {
    static final String SEGMENT = "000000010000000000000001";
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    Path dir;
    Path log;
    Path config;
    Process daemon;
    int port;
    byte[] segment;

    @BeforeEach
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-signals-");
        // initdb writes a real first segment (preallocated, valid long page header): a push the daemon accepts.
        PgCluster source = PgCluster.init(dir, "source", 16);
        segment = Files.readAllBytes(source.dataDir().resolve("pg_wal").resolve(SEGMENT));
        port = TestDirs.freePort();
        config = PgwardenFixture.writeConfig(dir, "127.0.0.1:" + port, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "", "");
        log = dir.resolve("daemon.log");
        daemon = Launcher.start(log, "run", "--config", config.toString());
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(200)).ignoreExceptions().until(() ->
                HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null && daemon.isAlive()) daemon.destroyForcibly().waitFor();
        if (log != null && Files.exists(log)) System.out.println("daemon log:\n" + Files.readString(log));
        TestDirs.delete(dir);
    }

    private void signal(String name) {
        var r = Processes.run(List.of("kill", "-" + name, Long.toString(daemon.pid())), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
    }

    @Test
    void sighupIsLoggedAndIgnored() throws Exception {
        signal("HUP");
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(log).contains("SIGHUP ignored: pgwarden does not reload its configuration"));
        assertThat(daemon.isAlive()).isTrue();
        assertThat(push(segment).statusCode()).isEqualTo(201);
    }

    @Test
    void sigtermFinishesTheInFlightPushRefusesNewOnesAndExitsZero() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            OutputStream out = socket.getOutputStream();
            out.write(("PUT /v1/clusters/main/wal/" + SEGMENT + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + PgwardenFixture.TOKEN
                    + "\r\nContent-Length: " + segment.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            // A slow but steady sender: 16 MiB in 256 KiB pieces every 150 ms (about 10 s), SIGTERM arriving early on.
            var sender = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    for (int off = 0; off < segment.length; off += 256 << 10) {
                        out.write(segment, off, Math.min(256 << 10, segment.length - off));
                        out.flush();
                        Thread.sleep(150);
                    }
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            Thread.sleep(1000);
            assertThat(sender).isNotDone();

            signal("TERM");
            await().atMost(Duration.ofSeconds(5)).until(() -> Files.readString(log).contains("stop signal received"));
            // A new push now is answered 503 (curl --fail in archive_command fails, PostgreSQL retries the file).
            assertThat(newPushOutcome()).isEqualTo("503 pgwarden is stopping; retry later");
            assertThat(sender).as("still sending when the stop began").isNotDone();

            sender.get(60, TimeUnit.SECONDS);
            String response = readAll(socket.getInputStream());
            assertThat(response).startsWith("HTTP/1.1 201 ").contains("archived " + SEGMENT);
        }
        assertThat(daemon.waitFor(60, TimeUnit.SECONDS)).as("exited within 60 s").isTrue();
        assertThat(daemon.exitValue()).as(Files.readString(log)).isZero();
        assertThat(Files.readString(log)).contains("pgwarden stopped");
        // The push that was half sent at SIGTERM is stored, byte for byte.
        Path fetched = dir.resolve("fetched");
        var fetch = Launcher.run("wal-fetch", "--config", config.toString(), "--cluster", "main", SEGMENT, fetched.toString());
        assertThat(fetch.exitCode()).as(fetch.stderr()).isZero();
        assertThat(Files.readAllBytes(fetched)).isEqualTo(segment);
    }

    private String newPushOutcome() throws Exception {
        try {
            var r = push(new byte[16]);
            return r.statusCode() + " " + r.body().strip();
        } catch (ConnectException e) {
            return "refused";
        }
    }

    private HttpResponse<String> push(byte[] body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/clusters/main/wal/" + SEGMENT))
                .header("Authorization", "Bearer " + PgwardenFixture.TOKEN).PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String readAll(InputStream in) throws Exception {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        in.transferTo(all);
        return all.toString(StandardCharsets.UTF_8);
    }
}
