package io.pgwarden.it.encryption;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Encryption switched on for a repository written in clear: what was there stays readable and new objects are
 * encrypted (a mixed repository); switching it off again is refused. Pushes of history files through the daemon.
 */
class EncryptionSwitchTest {
    private static final byte[] TWO = "1\t0/5000000\tno recovery target specified\n".getBytes(StandardCharsets.UTF_8);
    private static final byte[] THREE = "1\t0/5000000\tno recovery target specified\n2\t0/6000000\tno recovery target specified\n"
            .getBytes(StandardCharsets.UTF_8);

    @Test
    void aClearRepositoryStaysReadableOnceEncryptedAndCannotGoBack() throws Exception {
        Path dir = TestDirs.create("pgwarden-switch-");
        String plain = PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo"));
        Path keyset = dir.resolve("keyset.json");
        String encrypted = plain + "  encryption: {keyset: \"${file:" + keyset + "}\"}\n";
        try {
            try (PgwardenFixture clear = PgwardenFixture.start(dir, plain, "")) {
                assertThat(clear.put("00000002.history", TWO).statusCode()).isEqualTo(201);
            }
            assertThat(Launcher.run("keyset", "create", "--out", keyset.toString()).exitCode()).isZero();
            try (PgwardenFixture sealed = PgwardenFixture.start(dir, encrypted, "")) {
                assertThat(sealed.get("00000002.history").body()).isEqualTo(TWO);
                assertThat(sealed.put("00000003.history", THREE).statusCode()).isEqualTo(201);
                assertThat(sealed.get("00000003.history").body()).isEqualTo(THREE);
                // A re-push of the file written in clear is still recognised as the same content.
                assertThat(sealed.put("00000002.history", TWO).statusCode()).isEqualTo(200);
                try (StorageDriver storage = StorageFactory.create(sealed.config().repository())) {
                    assertThat(storage.stat("main/wal/00000002/00000002.history.zst").orElseThrow().metadata()).doesNotContainKey("key-id");
                    assertThat(storage.stat("main/wal/00000003/00000003.history.zst").orElseThrow().metadata()).containsKey("key-id");
                    assertThat(storage.stat("repository.json")).isPresent();
                }
                var verify = sealed.cli("list");
                assertThat(verify.exitCode()).as(verify.stderr()).isZero();
            }
            Path config = PgwardenFixture.writeConfig(dir, "127.0.0.1:" + TestDirs.freePort(), plain, "", "");
            assertThatThrownBy(() -> PgwardenFixture.startWithConfig(dir, config)).isInstanceOf(PgwardenException.class)
                    .hasMessageContaining("is encrypted (AES256_GCM_HKDF_1MB, key ids ")
                    .hasMessageContaining("a repository cannot go back to clear")
                    .satisfies(e -> assertThat(((PgwardenException) e).code()).isEqualTo(ErrorCode.CONFIG));
        } finally {
            TestDirs.delete(dir);
        }
    }
}
