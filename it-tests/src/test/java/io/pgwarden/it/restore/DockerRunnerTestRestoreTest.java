package io.pgwarden.it.restore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgwarden.it.support.PgContainer;
import io.pgwarden.it.support.Processes;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;

/**
 * Test restores with the docker runner: a scratch volume filled by sidecars (fed through named pipes), PostgreSQL in a
 * container on it with no network, psql sidecars on its socket; no container, volume or pipe of this instance is
 * left afterwards.
 */
class DockerRunnerTestRestoreTest extends TestRestoreEndToEnd {
    @BeforeAll
    void requireImage() {
        assumeTrue(PgContainer.imagePresent(), "no local image " + PgContainer.IMAGE + " (it-tests/images/build-images.sh builds it)");
    }

    @Override
    String runnerYaml() {
        // The source server listens on the host's loopback: the tool sidecars share the host's network. The base
        // backup leaves its sidecar and the scratch volume is filled through named pipes (runner.streamDir).
        return "runner: {type: docker, image: \"local/postgres:{major}\", network: host, pull: never, streamDir: " + dir.resolve("stream") + "}\n";
    }

    @Override
    void assertNothingLeft(Path scratch) throws Exception {
        super.assertNothingLeft(scratch);
        String label = "label=io.pgwarden.instance=" + instance();
        assertThat(Processes.run(List.of("docker", "ps", "-aq", "--filter", label), null).stdout()).isEmpty();
        assertThat(Processes.run(List.of("docker", "volume", "ls", "-q", "--filter", label), null).stdout()).isEmpty();
        try (var runs = java.nio.file.Files.list(dir.resolve("stream"))) {
            assertThat(runs.toList()).as("named pipes of finished runs").isEmpty();
        }
    }
}
