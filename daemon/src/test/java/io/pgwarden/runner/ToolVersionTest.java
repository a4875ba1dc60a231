package io.pgwarden.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real tool binary run by the process runner: its version is asked once, and again once the binary is another. */
class ToolVersionTest {
    @TempDir
    Path dir;

    @Test
    void theVersionIsAskedOncePerBinaryAndAgainWhenTheBinaryChanges() throws Exception {
        Path bin = Files.createDirectories(dir.resolve("bin15"));
        Path calls = dir.resolve("calls");
        Path tool = bin.resolve("pg_basebackup");
        writeTool(tool, calls, "15.1");
        try (ProcessToolRunner runner = new ProcessToolRunner(dir.resolve("bin{major}").toString())) {
            assertThat(ToolVersion.of(runner, "pg_basebackup", 15, "test", "r1")).isEqualTo("pg_basebackup (PostgreSQL) 15.1");
            assertThat(ToolVersion.of(runner, "pg_basebackup", 15, "test", "r2")).isEqualTo("pg_basebackup (PostgreSQL) 15.1");
            assertThat(Files.readAllLines(calls)).hasSize(1);

            writeTool(tool, calls, "15.12"); // an upgrade: another size and time
            assertThat(ToolVersion.of(runner, "pg_basebackup", 15, "test", "r3")).isEqualTo("pg_basebackup (PostgreSQL) 15.12");
            assertThat(Files.readAllLines(calls)).hasSize(2);
        }
    }

    private static void writeTool(Path tool, Path calls, String version) throws Exception {
        Files.writeString(tool, "#!/bin/sh\necho called >> " + calls + "\necho 'pg_basebackup (PostgreSQL) " + version + "'\n");
        Files.setPosixFilePermissions(tool, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setLastModifiedTime(tool, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + version.length() * 1000L));
    }
}
