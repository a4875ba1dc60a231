package io.pgwarden.it.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.it.support.Launcher;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** check-config as an operator runs it: through bin/pgwarden, reading stdout and the exit code. */
class CheckConfigCommandTest {
    @TempDir
    Path dir;

    @Test
    void printsEveryProblemWithItsKeyPathAndExits2() throws Exception {
        Path config = dir.resolve("bad.yml");
        Files.writeString(config, """
                repository: {type: filesystem, path: /var/tmp/x, compression: brotli}
                clusters:
                  main: {walToken: "${file:/etc/pgwarden/main.token}"}
                """);
        var r = Launcher.run("check-config", "--config", config.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.stdout().lines()).containsExactly(
                "repository.compression: 'brotli' is not a compression (zstd, gzip or none)",
                "clusters.main.walToken: file '/etc/pgwarden/main.token' does not exist");
    }

    @Test
    void printsOkForTheExampleConfig() {
        Path example = Launcher.home().resolve("../../../config/pgwarden.yml").normalize();
        var r = new ProcessBuilder(Launcher.executable().toString(), "check-config", "--config", example.toString());
        r.environment().put("PGWARDEN_MAIN_TOKEN", "a-token-of-sixteen-chars");
        var result = run(r);
        assertThat(result).isEqualTo("0:OK\n");
    }

    @Test
    void anUnknownCommandLineOptionExits2() {
        var r = Launcher.run("check-config", "--config", "x.yml", "--konfig");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.stderr()).contains("Unknown option: '--konfig'");
    }

    /** Upload memory is two parts: with 64 MiB parts, 128 MiB, which the daemon's default 128 MiB heap cannot spare. */
    @Test
    void theDaemonRefusesToStartWhenItsUploadMemoryWouldTakeHalfTheHeap() throws Exception {
        Path token = Files.writeString(dir.resolve("main.token"), "a-token-of-sixteen-chars\n");
        Path config = dir.resolve("big-parts.yml");
        Files.writeString(config, """
                server: {listen: "127.0.0.1:%d"}
                repository:
                  type: s3
                  s3: {endpoint: "http://127.0.0.1:9", bucket: b, region: us-east-1, pathStyle: true, accessKey: a, secretKey: b, partSize: 64MiB}
                clusters:
                  main: {walToken: "${file:%s}"}
                """.formatted(io.pgwarden.it.support.TestDirs.freePort(), token));
        Process daemon = new ProcessBuilder(Launcher.executable().toString(), "run", "--config", config.toString()).redirectErrorStream(true).start();
        try {
            assertThat(daemon.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as("the daemon exits at once").isTrue();
            assertThat(daemon.exitValue()).isEqualTo(2);
            assertThat(new String(daemon.getInputStream().readAllBytes())).contains("uploads need 128 MiB of memory (two parts of"
                    + " repository.s3.partSize, at least 32 MiB), more than half of the JVM's heap").contains("HINT: raise the heap");
        } finally {
            daemon.destroyForcibly().waitFor();
        }
    }

    private static String run(ProcessBuilder pb) {
        try {
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes());
            return p.waitFor() + ":" + out;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
