package io.pgwarden.it.encryption;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.streamingaead.PredefinedStreamingAeadParameters;
import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A cluster archived, backed up and dumped into an encrypted repository: the stored bytes show no row and no WAL page;
 * PITR and a test restore work from the repository and the keyset alone; a missing, unrelated or forged keyset and
 * swapped objects are refused, naming the object; a rotated keyset keeps every older object readable. Subclasses
 * pick the repository.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class EncryptionEndToEnd {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String SECRET = "pgwarden-secret-row-";
    /** The start of every WAL page of timeline 1 as PostgreSQL 15 writes it: magic 0xD110, info, timeline 1. */
    static final byte[] MAGIC = {0x10, (byte) 0xD1};
    static final byte[] TIMELINE_1 = {0x01, 0x00, 0x00, 0x00};

    Path dir;
    Path keyset;
    String plainRepository;
    PgCluster source;
    PgwardenFixture pgwarden;
    String firstBackup;
    String firstKey;
    Instant betweenBatches;

    /** The repository section, without encryption. */
    abstract String repositoryYaml(Path dir) throws Exception;

    void stopRepository() throws Exception {
    }

    String encrypted(Path keysetFile) {
        return plainRepository + "  encryption: {keyset: \"${file:" + keysetFile + "}\"}\n";
    }

    String clusterYaml() {
        return "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres}\nrunner: {type: process}\n"
                + "restoreTest: {scratchDir: " + dir.resolve("scratch") + ", timeout: 5m, checks: [{sql: \"SELECT count(*) FROM t WHERE batch = 1\","
                + " expect: \"100\"}], dumps: true}\n";
    }

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-crypt-");
        keyset = dir.resolve("keyset.json");
        var created = Launcher.run("keyset", "create", "--out", keyset.toString());
        assertThat(created.exitCode()).as(created.stderr()).isZero();
        firstKey = JSON.readTree(keyset.toFile()).get("primaryKeyId").asText();
        assertThat(created.stdout()).contains("key " + firstKey + "  AES256_GCM_HKDF_1MB  enabled  primary");
        assertThat(created.stdout() + created.stderr()).doesNotContain(JSON.readTree(keyset.toFile()).get("key").get(0).get("keyData").get("value").asText());
        assertThat(Files.getPosixFilePermissions(keyset)).hasToString("[OWNER_READ, OWNER_WRITE]");
        // restore_command (pgwarden wal-fetch) runs as the restored server's user and reads the keyset too.
        Processes.checked(Processes.run(List.of("chown", "postgres", keyset.toString()), null), "chown");
        plainRepository = repositoryYaml(dir);

        source = PgCluster.init(dir, "source", 16);
        pgwarden = PgwardenFixture.start(dir, encrypted(keyset), "", clusterYaml());
        source.configure("archive_mode = on", "archive_command = '" + pgwarden.archiveCommand() + "'").start();
        source.query("CREATE TABLE t (id serial, batch int, secret text, at timestamptz DEFAULT clock_timestamp())");
        insertBatch(1, 100);
        firstBackup = pgwarden.baseBackup();
        var dump = pgwarden.daemon().jobs().run(new JobRequest("main", JobKind.DUMP, Optional.empty(), "test"));
        assertThat(dump.state()).as(String.valueOf(dump.error())).isEqualTo(io.pgwarden.jobs.JobState.SUCCEEDED);
        Thread.sleep(1100);
        betweenBatches = Instant.parse(source.query("SELECT to_json(clock_timestamp())#>>'{}'"));
        Thread.sleep(1100);
        insertBatch(2, 50);
        source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));
    }

    @AfterAll
    void stop() throws Exception {
        if (source != null) source.close();
        if (pgwarden != null) pgwarden.close();
        stopRepository();
        TestDirs.delete(dir);
    }

    void insertBatch(int batch, int rows) {
        source.query("INSERT INTO t (batch, secret) SELECT " + batch + ", '" + SECRET + "' || g FROM generate_series(1, " + rows + ") g");
    }

    StorageDriver storage() {
        return StorageFactory.create(pgwarden.config().repository());
    }

    byte[] stored(String key) throws Exception {
        try (StorageDriver storage = storage(); var object = storage.get(key).orElseThrow()) {
            return object.content().readAllBytes();
        }
    }

    static boolean looksLikeClearData(byte[] bytes) {
        return indexOf(bytes, SECRET.getBytes(StandardCharsets.US_ASCII)) >= 0 || hasWalPageHeader(bytes);
    }

    static boolean hasWalPageHeader(byte[] b) {
        for (int i = 0; i + 8 <= b.length; i++) {
            if (b[i] == MAGIC[0] && b[i + 1] == MAGIC[1] && b[i + 3] == 0 && b[i + 4] == TIMELINE_1[0] && b[i + 5] == 0 && b[i + 6] == 0 && b[i + 7] == 0) {
                return true;
            }
        }
        return false;
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    Processes.Result restore(Path config, String... args) {
        List<String> all = new java.util.ArrayList<>(List.of("restore", "--config", config.toString(), "--cluster", "main"));
        all.addAll(List.of(args));
        return Launcher.run(all.toArray(String[]::new));
    }

    PgCluster startRestored(Path data, String name) {
        Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", data.toString()), null), "chown");
        PgCluster copy = PgCluster.existing(dir, data, name);
        copy.configure("archive_mode = off").start();
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(300)).until(() -> copy.query("SELECT pg_is_in_recovery()").equals("f"));
        return copy;
    }

    static String batches(PgCluster pg) {
        return pg.query("SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM (SELECT batch, count(*) n FROM t GROUP BY batch) s");
    }

    /** A config for the same repository and cluster, in its own directory, with the given repository section. */
    Path otherConfig(String name, String repositoryYaml) throws Exception {
        Path d = Files.createDirectories(dir.resolve(name));
        return PgwardenFixture.writeConfig(d, "127.0.0.1:" + TestDirs.freePort(), repositoryYaml, "", clusterYaml());
    }

    @Test
    @Order(1)
    void theStoredBytesShowNoRowAndNoWalPage() throws Exception {
        List<String> keys = pgwarden.repositoryKeys("main/");
        List<String> data = keys.stream().filter(k -> !k.endsWith(".json")).toList();
        assertThat(data).anyMatch(k -> k.startsWith("main/wal/")).anyMatch(k -> k.startsWith("main/base/" + firstBackup + "/base.tar."))
                .anyMatch(k -> k.startsWith("main/dump/postgres/")).anyMatch(k -> k.startsWith("main/globals/"));
        for (String key : data) assertThat(looksLikeClearData(stored(key))).as("stored bytes of %s", key).isFalse();

        // The scan finds both in what a reader gets back: it is not blind.
        String segment = keys.stream().filter(k -> k.matches("main/wal/00000001/[0-9A-F]{24}\\.[a-z]+")).findFirst().orElseThrow()
                .replaceAll(".*/([0-9A-F]{24})\\..*", "$1");
        byte[] fetched = pgwarden.get(segment).body();
        assertThat(hasWalPageHeader(fetched)).isTrue();

        // The repository says it is encrypted, with which key; each object says which key opens it.
        JsonNode marker = JSON.readTree(stored("repository.json"));
        assertThat(marker.get("encryption").get("algorithm").asText()).isEqualTo("AES256_GCM_HKDF_1MB");
        assertThat(marker.get("encryption").get("keyIds").toString()).isEqualTo("[\"" + firstKey + "\"]");
        JsonNode manifest = JSON.readTree(stored("main/base/" + firstBackup + "/manifest.json"));
        assertThat(manifest.get("encryption").get("keyId").asText()).isEqualTo(firstKey);
        try (StorageDriver storage = storage()) {
            String walKey = keys.stream().filter(k -> k.contains("/" + segment + ".")).findFirst().orElseThrow();
            assertThat(storage.stat(walKey).orElseThrow().metadata()).containsEntry("key-id", firstKey).containsEntry("encryption", "AES256_GCM_HKDF_1MB");
        }
    }

    @Test
    @Order(2)
    void aPointInTimeRestoreAndATestRestoreWorkFromTheRepositoryAndTheKeyset() throws Exception {
        Path target = dir.resolve("to-time");
        var r = restore(pgwarden.configFile(), "--target-time", betweenBatches.toString(), "--target-dir", target.toString());
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        try (PgCluster copy = startRestored(target, "to-time")) {
            assertThat(batches(copy)).isEqualTo("1:100");
            assertThat(copy.query("SELECT secret FROM t WHERE id = 7")).isEqualTo(SECRET + "7");
        }

        JsonNode run = pgwarden.startAndAwait("/v1/clusters/main/restore-tests", null, "/v1/clusters/main/runs/", Duration.ofMinutes(3));
        assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("succeeded");
        var dumpRestore = pgwarden.cli("restore-dump", "--database", "postgres", "--target-db", "from_dump");
        assertThat(dumpRestore.exitCode()).as(dumpRestore.stderr()).isZero();
        assertThat(source.query("SELECT count(*) FROM t WHERE batch = 1", "from_dump")).isEqualTo("100");
    }

    @Test
    @Order(3)
    void withoutTheKeysetOrWithAnUnrelatedOneNothingStarts() throws Exception {
        Path plain = otherConfig("plain", plainRepository);
        var list = Launcher.run("list", "--config", plain.toString(), "--cluster", "main");
        assertThat(list.exitCode()).isEqualTo(2);
        assertThat(list.stderr()).contains("is encrypted (AES256_GCM_HKDF_1MB, key ids " + firstKey + ") but repository.encryption is not configured");
        assertThatThrownBy(() -> PgwardenFixture.startWithConfig(plain.getParent(), plain)).isInstanceOf(PgwardenException.class)
                .hasMessageContaining("but repository.encryption is not configured")
                .satisfies(e -> assertThat(((PgwardenException) e).code()).isEqualTo(ErrorCode.CONFIG));

        Path otherKeyset = dir.resolve("unrelated.json");
        assertThat(Launcher.run("keyset", "create", "--out", otherKeyset.toString()).exitCode()).isZero();
        Path unrelated = otherConfig("unrelated", encrypted(otherKeyset));
        var restore = restore(unrelated, "--latest", "--target-dir", dir.resolve("never").toString());
        assertThat(restore.exitCode()).isEqualTo(2);
        assertThat(restore.stderr()).contains("holds none of the keys").contains("is encrypted with (" + firstKey + ")");
        assertThat(dir.resolve("never")).doesNotExist();

        Path garbage = dir.resolve("garbage.json");
        Files.writeString(garbage, "{\"primaryKeyId\": 1}");
        var check = Launcher.run("check-config", "--config", otherConfig("garbage", encrypted(garbage)).toString());
        assertThat(check.exitCode()).isEqualTo(2);
        assertThat(check.stdout()).contains("repository.encryption.keyset is not a Tink JSON keyset");
    }

    @Test
    @Order(4)
    void aKeyWithTheRightIdButOtherMaterialFailsOnTheFirstObjectBeforeWritingAByte() throws Exception {
        // Forged: the repository's key id, fresh key material. It passes the start check; every object must refuse it.
        KeysetHandle forged = KeysetHandle.newBuilder().addEntry(KeysetHandle.generateEntryFromParameters(
                PredefinedStreamingAeadParameters.AES256_GCM_HKDF_1MB).withFixedId(Integer.parseUnsignedInt(firstKey)).makePrimary()).build();
        Path forgedFile = dir.resolve("forged.json");
        Files.writeString(forgedFile, TinkJsonProtoKeysetFormat.serializeKeyset(forged, InsecureSecretKeyAccess.get()));
        Path config = otherConfig("forged", encrypted(forgedFile));

        Path target = dir.resolve("forged-target");
        var r = restore(config, "--latest", "--backup", firstBackup, "--target-dir", target.toString());
        assertThat(r.exitCode()).as(r.stderr()).isEqualTo(5);
        assertThat(r.stderr()).contains("repository object 'main/base/" + firstBackup + "/base.tar.").contains("failed authentication");
        if (Files.exists(target)) {
            try (var left = Files.list(target)) {
                assertThat(left).isEmpty();
            }
        }
        String segment = source.query("SELECT pg_walfile_name(pg_current_wal_lsn())");
        String archived = pgwarden.walKeys().stream().filter(k -> k.startsWith("main/wal/00000001/0")).findFirst().orElseThrow()
                .replaceAll(".*/([0-9A-F]{24})\\..*", "$1");
        var fetch = Launcher.run("wal-fetch", "--config", config.toString(), "--cluster", "main", archived, dir.resolve("fetched").toString());
        assertThat(fetch.exitCode()).as(fetch.stderr() + segment).isEqualTo(5);
        assertThat(fetch.stderr()).contains("failed authentication");
        assertThat(dir.resolve("fetched")).doesNotExist();
    }

    @Test
    @Order(5)
    void aRotatedKeysetWritesWithTheNewKeyAndStillReadsEveryOlderObject() throws Exception {
        var rotated = Launcher.run("keyset", "rotate", "--keyset", keyset.toString());
        assertThat(rotated.exitCode()).as(rotated.stderr()).isZero();
        String secondKey = JSON.readTree(keyset.toFile()).get("primaryKeyId").asText();
        assertThat(secondKey).isNotEqualTo(firstKey);
        assertThat(rotated.stdout()).contains("key " + firstKey + "  AES256_GCM_HKDF_1MB  enabled\n").contains("key " + secondKey + "  AES256_GCM_HKDF_1MB  enabled  primary");

        pgwarden.close();
        pgwarden = PgwardenFixture.startWithConfig(dir, pgwarden.configFile());
        insertBatch(3, 30);
        String secondBackup = pgwarden.baseBackup();
        insertBatch(4, 7);
        source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));

        assertThat(JSON.readTree(stored("main/base/" + secondBackup + "/manifest.json")).get("encryption").get("keyId").asText()).isEqualTo(secondKey);
        assertThat(JSON.readTree(stored("repository.json")).get("encryption").get("keyIds")).extracting(JsonNode::asText)
                .containsExactlyInAnyOrder(firstKey, secondKey);

        // The old backup, replayed through WAL written under both keys.
        Path target = dir.resolve("across-keys");
        var r = restore(pgwarden.configFile(), "--latest", "--backup", firstBackup, "--target-dir", target.toString());
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        try (PgCluster copy = startRestored(target, "across-keys")) {
            assertThat(batches(copy)).isEqualTo("1:100,2:50,3:30,4:7");
        }

        var verify = pgwarden.cli("verify");
        assertThat(verify.exitCode()).as(verify.stdout() + verify.stderr()).isZero();
        assertThat(verify.stdout()).containsPattern("encryption keys: key " + "(" + firstKey + "|" + secondKey + ") protects \\d+ object\\(s\\), \\d+ bytes stored; key ")
                .contains("key " + firstKey + " protects ").contains("key " + secondKey + " protects ").doesNotContain("in clear");
    }

    @Test
    @Order(6)
    void swappedObjectsFailWithAnIntegrityErrorNamingTheObject() throws Exception {
        List<String> segments = pgwarden.walKeys().stream().filter(k -> k.matches("main/wal/00000001/[0-9A-F]{24}\\.[a-z]+")).toList();
        String a = segments.get(0);
        String b = segments.get(1);
        try (StorageDriver storage = storage()) {
            Map<String, String> metaA = storage.stat(a).orElseThrow().metadata();
            byte[] bytesA = stored(a);
            storage.delete(b);
            storage.put(b, StorageDriver.SizedContent.of(bytesA), metaA);
        }
        String nameB = b.replaceAll(".*/([0-9A-F]{24})\\..*", "$1");
        var http = pgwarden.get(nameB);
        assertThat(http.statusCode()).isEqualTo(500);
        assertThat(new String(http.body(), StandardCharsets.UTF_8)).contains("repository object '" + b + "'").contains("failed authentication");
        // The same context as fields: headers for HTTP clients, a line under the message on the command line.
        assertThat(http.headers().firstValue("Pgwarden-Error-Code")).hasValue("INTEGRITY");
        assertThat(http.headers().firstValue("Pgwarden-Cluster")).hasValue("main");
        assertThat(http.headers().firstValue("Pgwarden-Object")).hasValue(b);
        var fetch = pgwarden.cli("wal-fetch", nameB, dir.resolve("swapped").toString());
        assertThat(fetch.exitCode()).isEqualTo(5);
        assertThat(fetch.stderr()).contains("pgwarden: (code INTEGRITY, object " + b + ")");
        assertThat(dir.resolve("swapped")).doesNotExist();

        // One backup's data under another's key, its manifest edited to match sizes and checksums: only the key binding can tell.
        List<String> manifests = pgwarden.repositoryKeys("main/base/").stream().filter(k -> k.endsWith("/manifest.json")).toList();
        JsonNode first = JSON.readTree(stored(manifests.get(0)));
        com.fasterxml.jackson.databind.node.ObjectNode second = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(stored(manifests.get(1)));
        try (StorageDriver storage = storage()) {
            byte[] firstData = stored(first.get("dataKey").asText());
            storage.delete(second.get("dataKey").asText());
            storage.put(second.get("dataKey").asText(), StorageDriver.SizedContent.of(firstData), Map.of());
            for (String field : List.of("rawBytes", "storedBytes", "sha256", "storedSha256", "encryption")) second.set(field, first.get(field));
            storage.put(manifests.get(1), StorageDriver.SizedContent.of(JSON.writeValueAsBytes(second)), Map.of());
        }
        Path target = dir.resolve("swapped-backup");
        var r = restore(pgwarden.configFile(), "--latest", "--backup", second.get("backupId").asText(), "--target-dir", target.toString());
        assertThat(r.exitCode()).as(r.stderr()).isEqualTo(5);
        assertThat(r.stderr()).contains("repository object '" + second.get("dataKey").asText() + "'").contains("failed authentication");
    }
}
