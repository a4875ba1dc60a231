package io.pgwarden.backup;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;

class TarWriterTest {
    @Test
    void entriesReadBackWithTheirNamesModesAndContent() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TarWriter tar = new TarWriter(out, 26, 27);
        String longName = "pg_logical/" + "d".repeat(120) + "/state";
        tar.directory("base", 0700, 1_700_000_000L);
        tar.file("base/1/1259", 0600, "rows".getBytes(StandardCharsets.UTF_8), 1_700_000_001L);
        tar.file(longName, 0640, new byte[0], 0);
        tar.finish();
        assertThat(out.size() % 512).isZero();
        try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(out.toByteArray()))) {
            TarArchiveEntry dir = in.getNextEntry();
            assertThat(dir.getName()).isEqualTo("base/");
            assertThat(dir.isDirectory()).isTrue();
            assertThat(dir.getMode() & 07777).isEqualTo(0700);
            TarArchiveEntry file = in.getNextEntry();
            assertThat(file.getName()).isEqualTo("base/1/1259");
            assertThat(file.getLongUserId()).isEqualTo(26);
            assertThat(file.getModTime().getTime()).isEqualTo(1_700_000_001_000L);
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("rows");
            TarArchiveEntry longOne = in.getNextEntry();
            assertThat(longOne.getName()).isEqualTo(longName);
            assertThat(longOne.getMode() & 07777).isEqualTo(0640);
            assertThat(in.getNextEntry()).isNull();
        }
    }

    @Test
    void aSizeBeyondElevenOctalDigitsIsWrittenInBase256() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long size = 9L << 30;
        new TarWriter(out, 0, 0).fileHeader("big", 0600, size, 0);
        TarArchiveEntry entry = new TarArchiveEntry(Arrays.copyOf(out.toByteArray(), 512));
        assertThat(entry.getSize()).isEqualTo(size);
        assertThat(entry.getName()).isEqualTo("big");
    }
}
