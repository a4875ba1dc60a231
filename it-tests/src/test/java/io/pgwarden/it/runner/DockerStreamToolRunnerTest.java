package io.pgwarden.it.runner;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.runner.DockerSettings;
import io.pgwarden.runner.DockerToolRunner;
import io.pgwarden.runner.ToolResult;
import io.pgwarden.config.RunnerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The Docker runner with runner.streamDir: every test of the contract and of the Docker runner again, the tool's
 * stdout now arriving through a named pipe on a bind mount instead of the engine's attach stream.
 */
class DockerStreamToolRunnerTest extends DockerToolRunnerTest {
    @Override
    Optional<DockerSettings.StreamDir> stream() {
        Path streamDir = dir.resolve("stream");
        return Optional.of(new DockerSettings.StreamDir(streamDir, streamDir.toString()));
    }

    @Test
    void noPipeOrRunDirectoryIsLeftAfterSuccessFailureOrTimeout() throws IOException {
        streamsAToolsStdoutToTheConsumer();
        aWrongPasswordFailsWithTheToolsOwnMessage();
        aTimeoutKillsTheTool();
        try (Stream<Path> left = Files.list(dir.resolve("stream"))) {
            assertThat(left.toList()).isEmpty();
        }
    }

    @Test
    void aStartRemovesTheRunDirectoriesThisInstanceLeftAndNoOneElses() throws Exception {
        Path stream = Files.createDirectories(dir.resolve("stream"));
        Path mine = Files.createDirectory(stream.resolve(instance + "@left-by-a-kill-9"));
        io.pgwarden.it.support.Processes.checked(io.pgwarden.it.support.Processes.run(List.of("mkfifo", mine.resolve("stdout").toString()), null), "mkfifo");
        Path other = Files.createDirectory(stream.resolve(instance + "-b@" + "running"));
        runner.removeOrphans();
        assertThat(mine).doesNotExist();
        assertThat(other).isDirectory();
        Files.delete(other);
    }

    @Test
    void aMountThatIsNotTheDaemonsDirectoryFailsClearlyAndWritesNoBackupIntoIt() throws IOException {
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        try (DockerToolRunner wrong = new DockerToolRunner(new DockerSettings(Optional.empty(), IMAGE, "host", RunnerConfig.Pull.NEVER,
                Optional.empty(), Optional.empty(), instance, Optional.of(new DockerSettings.StreamDir(dir.resolve("stream"), elsewhere.toString()))))) {
            long[] bytes = {0};
            ToolResult result = wrong.run(invocation("pg_dump", PASSWORD, Duration.ofMinutes(1), with(connection(), "-t", "t", "postgres")),
                    out -> bytes[0] = out.transferTo(java.io.OutputStream.nullOutputStream()));
            assertThat(result.succeeded()).isFalse();
            assertThat(bytes[0]).isZero();
            assertThat(result.failureSummary("pg_dump")).contains("is not the daemon's named pipe: runner.streamMount must be runner.streamDir"
                    + " as the Docker engine's host sees it");
        }
        try (Stream<Path> files = Files.walk(elsewhere)) {
            assertThat(files.filter(Files::isRegularFile).toList()).as("the dump must not land in a plain file").isEmpty();
        }
    }
}
