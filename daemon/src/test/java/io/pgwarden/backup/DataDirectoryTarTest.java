package io.pgwarden.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The copy never follows a link the data directory's owner planted, global/ included (pg_control is read from it last). */
class DataDirectoryTarTest {
    @TempDir
    Path dir;

    @Test
    void aGlobalDirectoryThatIsALinkIsRefusedAndNothingBehindItIsRead() throws Exception {
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        Files.writeString(elsewhere.resolve("pg_control"), "SECRET-behind-the-link");
        Path data = Files.createDirectories(dir.resolve("data"));
        Files.writeString(data.resolve("PG_VERSION"), "15\n");
        Files.createSymbolicLink(data.resolve("global"), elsewhere);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThatThrownBy(() -> new DataDirectoryTar(data, out, null).writeFiles()).hasMessageContaining("global");
        assertThat(out.toString(StandardCharsets.ISO_8859_1)).contains("PG_VERSION").doesNotContain("SECRET-behind-the-link");
    }

    @Test
    void aDataDirectoryWithItsControlFileIsWrittenWithPgControlLast() throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        Files.writeString(data.resolve("PG_VERSION"), "15\n");
        Files.createDirectories(data.resolve("global"));
        Files.writeString(data.resolve("global/pg_control"), "control");
        Files.writeString(data.resolve("global/1262"), "relation");
        Files.writeString(data.resolve("postmaster.pid"), "4242");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DataDirectoryTar tar = new DataDirectoryTar(data, out, null);
        tar.writeFiles();
        tar.finish("LABEL: test\n", 0);
        String text = out.toString(StandardCharsets.ISO_8859_1);
        assertThat(text).doesNotContain("postmaster.pid");
        assertThat(text.lastIndexOf("global/pg_control")).isGreaterThan(text.indexOf("global/1262")).isLessThan(text.indexOf("backup_label"));
    }
}
