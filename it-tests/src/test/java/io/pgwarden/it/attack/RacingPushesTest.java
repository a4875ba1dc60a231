package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Pushes of one WAL file name with different content, racing: exactly one gets 201, every other 409, and a fetch
 * returns the winner's bytes; the stored file is never replaced. On a filesystem repository, on S3Proxy, and into a spool.
 * (History files are pushed because any valid content will do: the store decision is the same for every kind.)
 */
class RacingPushesTest {
    private static final int ROUNDS = 15;
    private static final int RACERS = 4;

    @Test
    void racingPushesToAFilesystemRepositoryStoreExactlyOne() throws Exception {
        Path dir = TestDirs.create("pgwarden-race-fs-");
        try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "")) {
            race(pgwarden);
        } finally {
            TestDirs.delete(dir);
        }
    }

    @Test
    void racingPushesToS3StoreExactlyOne() throws Exception {
        Path dir = TestDirs.create("pgwarden-race-s3-");
        try (S3Server s3 = new S3Server().start()) {
            s3.createBucket("race");
            try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, s3.repositoryYaml("race", "r"), "")) {
                race(pgwarden);
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    /** With archive.durability: spool the race is decided in the spool; the winner, and only it, is uploaded. */
    @Test
    void racingPushesIntoASpoolStoreExactlyOneAndUploadTheWinner() throws Exception {
        Path dir = TestDirs.create("pgwarden-race-spool-");
        try (S3Server s3 = new S3Server().start()) {
            s3.createBucket("race");
            try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, s3.repositoryYaml("race", "r"), "walSpoolDir: " + dir.resolve("spool"),
                    "archive: {durability: spool}\n")) {
                java.util.Map<String, byte[]> winners = race(pgwarden);
                org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
                        .until(() -> pgwarden.metric("pgwarden_wal_spool_files{cluster=\"main\"}") == 0);
                assertThat(pgwarden.metric("pgwarden_wal_spool_uploads_total{cluster=\"main\",outcome=\"uploaded\"}")).isEqualTo(ROUNDS);
                for (var winner : winners.entrySet()) {
                    assertThat(pgwarden.get(winner.getKey()).body()).as("from the repository: " + winner.getKey()).isEqualTo(winner.getValue());
                }
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    private static java.util.Map<String, byte[]> race(PgwardenFixture pgwarden) throws Exception {
        java.util.Map<String, byte[]> winners = new java.util.LinkedHashMap<>();
        try (var pool = Executors.newFixedThreadPool(RACERS)) {
            for (int round = 0; round < ROUNDS; round++) {
                int timeline = round + 2;
                String name = "%08X.history".formatted(timeline);
                List<byte[]> bodies = new ArrayList<>();
                for (int r = 0; r < RACERS; r++) {
                    bodies.add("%d\t0/%X\tracer %d of round %d\n".formatted(timeline - 1, 0x5000000 + r * 0x100, r, round).getBytes(StandardCharsets.UTF_8));
                }
                CountDownLatch go = new CountDownLatch(1);
                List<Future<HttpResponse<String>>> answers = new ArrayList<>();
                for (byte[] body : bodies) {
                    answers.add(pool.submit(() -> {
                        go.await();
                        return pgwarden.put(name, body);
                    }));
                }
                go.countDown();
                List<Integer> statuses = new ArrayList<>();
                byte[] winner = null;
                for (int r = 0; r < RACERS; r++) {
                    HttpResponse<String> answer = answers.get(r).get();
                    statuses.add(answer.statusCode());
                    if (answer.statusCode() == 201) winner = bodies.get(r);
                    else assertThat(answer.body()).as(name).contains("is already archived with different content");
                }
                assertThat(statuses).as(name).containsOnly(201, 409).filteredOn(s -> s == 201).hasSize(1);
                var fetched = pgwarden.get(name);
                assertThat(fetched.statusCode()).isEqualTo(200);
                assertThat(fetched.body()).as(name).isEqualTo(winner);
                winners.put(name, winner);
            }
        }
        return winners;
    }
}
