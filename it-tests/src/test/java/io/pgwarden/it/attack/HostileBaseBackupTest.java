package io.pgwarden.it.attack;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgwarden.repository.codec.Compression;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.codec.Codecs;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Anyone who can write the bucket can replace a base backup's tar and its manifest (so the checksum matches). No such
 * tar may make a restore write outside its target: the CLI restore, the admin API restore and the scheduled test
 * restore (process runner) refuse each one, leave the target empty, and touch nothing outside it. The tars are
 * crafted here and stored through the repository driver, as an attacker with bucket access would.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileBaseBackupTest {
    Path dir;
    Path outside;
    Path victim;
    PgCluster source;
    PgwardenFixture pgwarden;
    BaseBackupManifest real;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-hostile-tar-");
        source = PgCluster.init(dir, "source", 16);
        pgwarden = PgwardenFixture.archiving(dir, source, "", "restoreTest: {scratchDir: " + dir.resolve("scratch") + ", timeout: 2m}\n");
        String backupId = pgwarden.baseBackup();
        try (StorageDriver storage = storage(); var o = storage.get(RepositoryLayout.baseBackupManifest("main", backupId)).orElseThrow()) {
            real = RepositoryJson.MAPPER.readValue(o.content(), BaseBackupManifest.class);
        }
    }

    @AfterAll
    void stop() {
        if (pgwarden != null) pgwarden.close();
        if (source != null) source.close();
        TestDirs.delete(dir);
    }

    @BeforeEach
    void freshOutside() throws IOException {
        outside = Files.createTempDirectory(Path.of("/tmp"), "pgwarden-outside-");
        victim = outside.resolve("victim");
        Files.writeString(victim, "untouched\n");
    }

    /** Each hostile tar: what it holds and the entry the refusal must name. */
    record Hostile(String what, String refusedEntry, Consumer<Tar> entries) {
    }

    List<Hostile> hostileTars() {
        return List.of(
                new Hostile("a link out, then a file through it", "pg_wal", t -> t.link("pg_wal", outside.toString()).file("pg_wal/pwned", "x")),
                new Hostile("a link out, then a directory through it", "sub", t -> t.link("sub", outside.toString()).dir("sub/made")),
                new Hostile("recovery.signal linked to a victim", "recovery.signal", t -> t.link("recovery.signal", victim.toString())),
                new Hostile("postgresql.auto.conf linked to a victim", "postgresql.auto.conf", t -> t.link("postgresql.auto.conf", victim.toString())),
                new Hostile("a tablespace link", "pg_tblspc/16384", t -> t.dir("pg_tblspc").link("pg_tblspc/16384", outside.toString())),
                new Hostile("a name climbing out", "../escaped", t -> t.file("../escaped", "x")),
                new Hostile("an absolute name", outside.resolve("absolute").toString(), t -> t.file(outside.resolve("absolute").toString(), "x")),
                new Hostile("a hard link to a file outside", "hard", t -> t.hardLink("hard", victim.toString())),
                new Hostile("a device file", "dev", t -> t.device("dev")));
    }

    @Test
    void theCliRestoreRefusesEveryHostileTarAndWritesNothingAnywhere() throws Exception {
        for (Hostile h : hostileTars()) {
            plant(h);
            Path target = dir.resolve("cli-target");
            var r = pgwarden.cli("restore", "--latest", "--target-dir", target.toString());
            assertThat(r.exitCode()).as(h.what() + ": " + r.stderr()).isEqualTo(5);
            assertThat(r.stderr()).as(h.what()).contains("tar entry '" + h.refusedEntry() + "'").contains("refusing to restore it");
            assertUntouched(h, target);
        }
    }

    @Test
    void theAdminApiRestoreRefusesEveryHostileTar() throws Exception {
        for (Hostile h : hostileTars()) {
            plant(h);
            Path target = dir.resolve("api-target");
            JsonNode status = pgwarden.startAndAwait("/v1/clusters/main/restores", "{\"latest\": true, \"targetDir\": \"" + target + "\"}",
                    "/v1/clusters/main/restores/", Duration.ofMinutes(1));
            assertThat(status.get("state").asText()).as(h.what()).isEqualTo("failed");
            assertThat(status.get("error").asText()).as(h.what()).contains("tar entry '" + h.refusedEntry() + "'");
            assertUntouched(h, target);
        }
    }

    @Test
    void theTestRestoreRefusesEveryHostileTar() throws Exception {
        for (Hostile h : hostileTars()) {
            plant(h);
            JsonNode state = pgwarden.startAndAwait("/v1/clusters/main/restore-tests", null, "/v1/clusters/main/runs/", Duration.ofMinutes(1));
            assertThat(state.get("state").asText()).as(h.what()).isEqualTo("failed");
            assertThat(state.get("error").asText()).as(h.what()).contains("tar entry '" + h.refusedEntry() + "'");
            assertUntouched(h, dir.resolve("scratch"));
        }
    }

    /** The docker runner restores into a volume through tar in a sidecar: the same entries never reach it. */
    @Test
    void theDockerRunnerRestoreIntoAVolumeRefusesEveryHostileTar() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(io.pgwarden.it.support.PgContainer.imagePresent(), "no local PostgreSQL image");
        Path dockerConfig = dir.resolve("docker-runner.yml");
        Files.writeString(dockerConfig, Files.readString(pgwarden.configFile()).replace("    connection:",
                "    runner: {type: docker, image: \"local/postgres:{major}\", network: host, pull: never}\n    connection:"));
        for (Hostile h : hostileTars()) {
            plant(h);
            var r = io.pgwarden.it.support.Launcher.run("restore", "--config", dockerConfig.toString(), "--cluster", "main", "--latest", "--start");
            assertThat(r.exitCode()).as(h.what() + ": " + r.stderr()).isEqualTo(5);
            assertThat(r.stderr()).as(h.what()).contains("tar entry '" + h.refusedEntry() + "'").contains("nothing of it reached the volume");
            assertUntouched(h, dir.resolve("none"));
        }
        // Other test classes may hold a restored server's volume meanwhile (in use by its container): ours were never used.
        assertThat(io.pgwarden.it.support.PgContainer.docker("volume", "ls", "-q", "--filter", "label=io.pgwarden.restored-by",
                "--filter", "dangling=true").strip()).as("no volume left").isEmpty();
    }

    private void assertUntouched(Hostile h, Path target) throws IOException {
        try (var left = Files.list(outside)) {
            assertThat(left.map(p -> p.getFileName().toString())).as(h.what() + ": " + outside).containsExactly("victim");
        }
        assertThat(Files.readString(victim)).as(h.what()).isEqualTo("untouched\n");
        assertThat(Files.exists(dir.resolve("escaped"))).as(h.what()).isFalse();
        if (Files.exists(target)) {
            try (var left = Files.list(target)) {
                assertThat(left).as(h.what() + ": the target is left empty").isEmpty();
            }
        }
    }

    /** Replaces the backup's data object with the crafted tar and rewrites its manifest to match (size and SHA-256). */
    private void plant(Hostile h) throws Exception {
        Tar tar = new Tar();
        tar.dir("global").file("PG_VERSION", "15\n");
        h.entries().accept(tar);
        byte[] raw = tar.bytes();
        ByteArrayOutputStream stored = new ByteArrayOutputStream();
        try (OutputStream z = Codecs.compress(Compression.ZSTD, 1, stored)) {
            z.write(raw);
        }
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(raw));
        BaseBackupManifest forged = new BaseBackupManifest(real.formatVersion(), real.backupId(), real.cluster(), real.label(), real.startLsn(),
                real.stopLsn(), real.timeline(), real.startWalFile(), real.stopWalFile(), real.backupHistoryFile(), real.startTime(),
                real.stopTime(), real.pgVersionNum(), real.systemIdentifier(), real.toolVersion(), real.dataKey(), "zstd", raw.length,
                stored.size(), sha, null, null, null, null, null);
        try (StorageDriver storage = storage()) {
            storage.put(real.dataKey(), new java.io.ByteArrayInputStream(stored.toByteArray()), Map.of("codec", "zstd"));
            RepositoryJson.write(storage, RepositoryLayout.baseBackupManifest("main", real.backupId()), forged);
        }
    }

    private StorageDriver storage() {
        return StorageFactory.create(pgwarden.config().repository());
    }

    /** A tar written entry by entry, hostile ones included (commons-compress writes what it is told). */
    static final class Tar {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final TarArchiveOutputStream out = new TarArchiveOutputStream(bytes);

        Tar() {
            out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        }

        Tar dir(String name) {
            return add(new TarArchiveEntry(name + "/"), null);
        }

        Tar file(String name, String content) {
            // preserveAbsolutePath: an absolute name must reach the tar as it is.
            TarArchiveEntry e = new TarArchiveEntry(name, true);
            byte[] data = content.getBytes(StandardCharsets.UTF_8);
            e.setSize(data.length);
            return add(e, data);
        }

        Tar link(String name, String target) {
            TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
            e.setLinkName(target);
            return add(e, null);
        }

        Tar hardLink(String name, String target) {
            TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_LINK);
            e.setLinkName(target);
            return add(e, null);
        }

        Tar device(String name) {
            TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_CHR);
            e.setDevMajor(1);
            e.setDevMinor(3);
            return add(e, null);
        }

        private Tar add(TarArchiveEntry e, byte[] data) {
            try {
                out.putArchiveEntry(e);
                if (data != null) out.write(data);
                out.closeArchiveEntry();
                return this;
            } catch (IOException x) {
                throw new java.io.UncheckedIOException(x);
            }
        }

        byte[] bytes() throws IOException {
            out.finish();
            return bytes.toByteArray();
        }
    }
}
