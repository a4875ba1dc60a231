package io.pgwarden.backup;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.pg.Lsn;
import io.pgwarden.pg.ManifestWalRange;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import io.pgwarden.storage.StagingDir;
import java.util.Random;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;

class BackupManifestCaptureTest {
    @org.junit.jupiter.api.io.TempDir
    Path dir;

    private static final String RANGES = """
            "WAL-Ranges": [
            { "Timeline": 1, "Start-LSN": "0/3000028", "End-LSN": "0/4000000" },
            { "Timeline": 2, "Start-LSN": "0/4000000", "End-LSN": "0/50000F8" }
            ],
            "Manifest-Checksum": "1234"}
            """;

    @Test
    void keepsTheEndOfALargeManifestWhateverTheReadSizes() throws Exception {
        StringBuilder files = new StringBuilder("{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n");
        for (int i = 0; i < 3000; i++) files.append("{ \"Path\": \"base/5/").append(i).append("\", \"Size\": 8192 },\n");
        String manifest = files + "],\n" + RANGES;
        byte[] tar = tar(manifest, "not the manifest: \"WAL-Ranges\" in a data file");
        for (int readSize : new int[] {1, 511, 512, 513, 8192, 1 << 20}) {
            BackupManifestCapture tail = new BackupManifestCapture(new ByteArrayInputStream(tar), new StagingDir(dir, "t"));
            byte[] copy = drain(tail, readSize);
            assertThat(copy).as("bytes pass through unchanged").isEqualTo(tar);
            Path file = tail.manifestFile().orElseThrow();
            assertThat(file.getFileName().toString()).startsWith("pgwarden-spool-t-manifest-");
            assertThat(Files.readString(file)).as("the whole manifest, read %d bytes at a time", readSize).isEqualTo(manifest);
            tail.close();
            assertThat(file).doesNotExist();
            String end = tail.manifestEnd().orElseThrow();
            assertThat(manifest.length()).isGreaterThan(64 << 10);
            assertThat(end).hasSize(64 << 10).isEqualTo(manifest.substring(manifest.length() - (64 << 10)));
            ManifestWalRange last = ManifestWalRange.last(end).orElseThrow();
            assertThat(last.timeline()).isEqualTo(2);
            assertThat(Lsn.format(last.endLsn())).isEqualTo("0/50000F8");
        }
    }

    @Test
    void aTarWithoutAManifestHasNoEnd() throws Exception {
        BackupManifestCapture tail = new BackupManifestCapture(new ByteArrayInputStream(tar(null, "data")), new StagingDir(dir, "p"));
        drain(tail, 4096);
        assertThat(tail.manifestEnd()).isEmpty();
        assertThat(tail.manifestFile()).isEmpty();
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void aManifestTheDiskCannotTakeFailsTheStreamNamingTheDirectory() throws Exception {
        Path notADirectory = Files.writeString(dir.resolve("file"), "x");
        BackupManifestCapture tail = new BackupManifestCapture(new ByteArrayInputStream(tar("{}", "data")), new StagingDir(notADirectory, "p"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> drain(tail, 4096)).isInstanceOf(IOException.class)
                .hasMessageContaining("cannot copy the backup manifest into '" + notADirectory + "'");
        assertThat(ManifestWalRange.last("{\"Files\": []}")).isEmpty();
    }

    private static byte[] tar(String manifest, String dataText) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            add(tar, "backup_label", "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\n".getBytes(StandardCharsets.UTF_8));
            byte[] data = new byte[70_001];
            new Random(1).nextBytes(data);
            add(tar, "base/5/1259", data);
            add(tar, "global/notes", dataText.getBytes(StandardCharsets.UTF_8));
            if (manifest != null) add(tar, "backup_manifest", manifest.getBytes(StandardCharsets.UTF_8));
        }
        return out.toByteArray();
    }

    private static void add(TarArchiveOutputStream tar, String name, byte[] content) throws IOException {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setSize(content.length);
        tar.putArchiveEntry(entry);
        tar.write(content);
        tar.closeArchiveEntry();
    }

    private static byte[] drain(InputStream in, int readSize) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[readSize];
        int n;
        while ((n = in.read(buf, 0, readSize)) >= 0) out.write(buf, 0, n);
        return out.toByteArray();
    }
}
