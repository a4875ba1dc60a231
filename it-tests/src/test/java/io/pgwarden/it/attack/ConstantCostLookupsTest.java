package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A push of a new name, a duplicate push and a fetch of a missing file touch keys directly: not one listing, so
 * their cost does not grow with the archive (a listing of a 500,000-file timeline once killed a 128 MiB daemon).
 * Counted by the daemon's own pgwarden_storage_operations_total, on a filesystem repository and on S3Proxy.
 */
class ConstantCostLookupsTest {
    private static final String OPS = "pgwarden_storage_operations_total{operation=\"%s\"}";

    @Test
    void onAFilesystemRepositoryPushesAndMissesNeverList() throws Exception {
        Path dir = TestDirs.create("pgwarden-cost-fs-");
        try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), "")) {
            assertLookupsOnly(pgwarden);
        } finally {
            TestDirs.delete(dir);
        }
    }

    @Test
    void onS3PushesAndMissesNeverList() throws Exception {
        Path dir = TestDirs.create("pgwarden-cost-s3-");
        try (S3Server s3 = new S3Server().start()) {
            s3.createBucket("cost");
            try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, s3.repositoryYaml("cost", "c"), "")) {
                assertLookupsOnly(pgwarden);
            }
        } finally {
            TestDirs.delete(dir);
        }
    }

    private static void assertLookupsOnly(PgwardenFixture pgwarden) throws Exception {
        // An archive with something in it (the cost must not depend on it), and the start-up measurement done.
        for (int tli = 2; tli <= 40; tli++) assertThat(pgwarden.put(history(tli), content(tli)).statusCode()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(10)).until(() -> settled(pgwarden));
        double lists = pgwarden.metric(OPS.formatted("list"));
        double creates = pgwarden.metric(OPS.formatted("create"));

        for (int tli = 41; tli <= 60; tli++) {
            assertThat(pgwarden.put(history(tli), content(tli)).statusCode()).isEqualTo(201);
            assertThat(pgwarden.put(history(tli), content(tli)).statusCode()).isEqualTo(200); // PostgreSQL's retry
            assertThat(pgwarden.get("%08X.history".formatted(tli + 1000)).statusCode()).isEqualTo(404);
            assertThat(pgwarden.get("0000000100000000000000%02X".formatted(tli)).statusCode()).isEqualTo(404);
        }
        assertThat(pgwarden.metric(OPS.formatted("list"))).as("listings during pushes and fetches").isEqualTo(lists);
        // A push is one conditional create, and no lookup first: the create says whether the name was archived. A retry
        // costs one refused create (and a lookup to compare), not an overwrite: its 200 above says it was compared.
        assertThat(pgwarden.metric(OPS.formatted("create"))).as("one create per push, new or retried").isEqualTo(creates + 40);
    }

    /** The start-up listing (repository size) is over once the list count stops moving. */
    private static boolean settled(PgwardenFixture pgwarden) throws Exception {
        double before = pgwarden.metric(OPS.formatted("list"));
        Thread.sleep(500);
        return pgwarden.metric(OPS.formatted("list")) == before;
    }

    private static String history(int tli) {
        return "%08X.history".formatted(tli);
    }

    private static byte[] content(int tli) {
        return "%d\t0/%X\tno recovery target specified\n".formatted(tli - 1, 0x5000000 + tli).getBytes(StandardCharsets.UTF_8);
    }
}
