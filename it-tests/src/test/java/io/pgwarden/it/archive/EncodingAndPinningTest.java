package io.pgwarden.it.archive;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each selectable encoding stores and serves a real segment byte-identical; a configured system identifier is enforced. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EncodingAndPinningTest {
    Path dir;
    String segmentName;
    byte[] segment;
    String systemIdentifier;

    @BeforeAll
    void realSegment() throws Exception {
        dir = TestDirs.create("pgwarden-enc-");
        PgCluster pg = PgCluster.init(dir, "pg", 1);
        segmentName = pg.oldestSegmentInPgWal();
        segment = Files.readAllBytes(pg.dataDir().resolve("pg_wal").resolve(segmentName));
        String controldata = io.pgwarden.it.support.Processes.checked(io.pgwarden.it.support.Processes.asPostgres(
                PgCluster.BIN.resolve("pg_controldata").toString(), pg.dataDir().toString()), "pg_controldata").stdout();
        systemIdentifier = controldata.lines().filter(l -> l.startsWith("Database system identifier:"))
                .map(l -> l.replaceAll("\\D", "")).findFirst().orElseThrow();
    }

    @AfterAll
    void cleanUp() {
        TestDirs.delete(dir);
    }

    @ParameterizedTest
    @CsvSource({"zstd, zst", "gzip, gz", "none, raw"})
    void storesAndServesEachEncodingByteIdentical(String compression, String suffix) throws Exception {
        Path sub = Files.createDirectories(dir.resolve(compression));
        String repo = PgwardenFixture.filesystemRepositoryYaml(sub.resolve("repo")) + "  compression: " + compression + "\n";
        try (PgwardenFixture pgwarden = PgwardenFixture.start(sub, repo, "")) {
            assertThat(pgwarden.put(segmentName, segment).statusCode()).isEqualTo(201);
            assertThat(pgwarden.walKeys()).containsExactly("main/wal/00000001/" + segmentName + "." + suffix);
            assertThat(pgwarden.get(segmentName).body()).isEqualTo(segment);
            String clusterJson = Files.readString(sub.resolve("repo/main/cluster.json"));
            assertThat(clusterJson).contains("\"systemIdentifier\" : \"" + systemIdentifier + "\"")
                    .contains("\"segmentSize\" : 1048576").contains("\"pgMajor\" : 15");
        }
    }

    @Test
    void aConfiguredSystemIdentifierRefusesOtherSystemsFromTheFirstSegment() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("pinned"));
        Path config = sub.resolve("pinned.yml");
        try (PgwardenFixture pgwarden = PgwardenFixture.start(sub, PgwardenFixture.filesystemRepositoryYaml(sub.resolve("repo")), "")) {
            // Same daemon config, but with systemIdentifier pinned to a different system.
            Files.writeString(config, Files.readString(pgwarden.configFile()) + "    systemIdentifier: 1234567890123456789\n");
        }
        try (PgwardenFixture pinned = PgwardenFixture.startWithConfig(sub, config)) {
            var r = pinned.put(segmentName, segment);
            assertThat(r.statusCode()).isEqualTo(409);
            assertThat(r.body()).isEqualTo("WAL file '" + segmentName + "' belongs to database system " + systemIdentifier
                    + ", but cluster 'main' is system 1234567890123456789\n");
            assertThat(pinned.repositoryKeys()).isEmpty();
        }
    }
}
