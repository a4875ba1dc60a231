package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.TestDirs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Two clusters on one daemon; one floods it with pushes that trickle their bodies a byte a second (a runaway or
 * hostile client with that cluster's token). The other cluster's pushes must still be served at once: each cluster
 * holds at most its share of the daemon's slots (server.maxConcurrentPushesPerCluster, by default half of them when
 * clusters share a daemon). Before the share, the flood took every slot and the whole waiting queue, and the other
 * cluster's push waited 30 s for a slot and was refused with 503.
 */
class OneClusterFloodTest {
    private static final String OTHER_TOKEN = "other-cluster-token-0123456789";
    private static final int FLOOD = 30;

    @Test
    void aFloodOfSlowPushesToOneClusterLeavesAnotherClustersPushesTheirSlots() throws Exception {
        Path dir = TestDirs.create("pgwarden-flood-");
        Path config = PgwardenFixture.writeConfig(dir, "127.0.0.1:" + TestDirs.freePort(), PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")),
                "maxConcurrentPushes: 4", "");
        Files.writeString(config, Files.readString(config).stripTrailing() + "\n  other:\n    walToken: " + OTHER_TOKEN + "\n");
        List<AbusiveClientsTest.Trickler> flood = new ArrayList<>();
        try (PgwardenFixture pgwarden = PgwardenFixture.startWithConfig(dir, config)) {
            try {
                floodAndPush(pgwarden, flood);
            } finally {
                // Before the daemon stops: it would wait for the pushes still in flight.
                flood.forEach(AbusiveClientsTest.Trickler::close);
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    private static void floodAndPush(PgwardenFixture pgwarden, List<AbusiveClientsTest.Trickler> flood) throws Exception {
        for (int i = 0; i < FLOOD; i++) flood.add(new AbusiveClientsTest.Trickler(pgwarden.daemon().port(), "%08X.history".formatted(i + 2)));
        Thread.sleep(1000);

        // Beyond its share and the waiting queue, the flooding cluster's own pushes are refused at once, naming why.
        List<String> refused = new ArrayList<>();
        for (AbusiveClientsTest.Trickler t : flood) if (t.answer.isDone()) refused.add(t.answer.get());
        assertThat(refused).isNotEmpty().allMatch(a -> a.startsWith("HTTP/1.1 503"));

        byte[] history = "1\t0/5000000\tno recovery target specified\n".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < 3; i++) {
            String file = "%08X.history".formatted(i + 2);
            long started = System.nanoTime();
            HttpResponse<String> pushed = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(pgwarden.baseUrl() + "/v1/clusters/other/wal/" + file)).header("Authorization", "Bearer " + OTHER_TOKEN)
                    .timeout(Duration.ofSeconds(60)).PUT(HttpRequest.BodyPublishers.ofByteArray(history)).build(), HttpResponse.BodyHandlers.ofString());
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            assertThat(pushed.statusCode()).as(pushed.body()).isEqualTo(201);
            assertThat(took).as("served without waiting for the flood").isLessThan(Duration.ofSeconds(5));
        }
        String body = new String(HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(pgwarden.baseUrl() + "/v1/clusters/main/wal/"
                + "00000099.history")).header("Authorization", "Bearer " + PgwardenFixture.TOKEN).PUT(HttpRequest.BodyPublishers.ofByteArray(history))
                .build(), HttpResponse.BodyHandlers.ofByteArray()).body(), StandardCharsets.UTF_8);
        assertThat(body).contains("too many WAL requests of cluster 'main' in flight (2, server.maxConcurrentPushesPerCluster)");
    }
}
