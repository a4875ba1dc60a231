package io.pgwarden.it.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.dockerjava.api.DockerClient;
import io.pgwarden.config.RunnerConfig;
import io.pgwarden.runner.DockerSettings;
import io.pgwarden.runner.DockerToolRunner;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import io.pgwarden.runner.ToolRunner;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;

/** Sidecars from the locally built local/postgres:15 image, on the host network, against the host's PostgreSQL. */
class DockerToolRunnerTest extends ToolRunnerContract {
    static final String IMAGE = System.getProperty("pgwarden.pg.image", "local/postgres:{major}");
    final String instance = "it-" + Long.toHexString(System.nanoTime());

    @Override
    ToolRunner createRunner() {
        assumeTrue(DockerClientFactory.instance().isDockerAvailable(), "no Docker engine");
        assumeTrue(imagePresent(IMAGE.replace("{major}", "15")), "no local image " + IMAGE + " (it-tests/images/build-images.sh builds it)");
        return new DockerToolRunner(settings(IMAGE, RunnerConfig.Pull.NEVER, Optional.empty()));
    }

    DockerSettings settings(String image, RunnerConfig.Pull pull, Optional<String> host) {
        return new DockerSettings(host, image, "host", pull, Optional.of(256L << 20), Optional.of(1.0), instance, stream());
    }

    /** Where sidecars write their stdout: here through the attach stream; {@link DockerStreamToolRunnerTest} a named pipe. */
    Optional<DockerSettings.StreamDir> stream() {
        return Optional.empty();
    }

    static boolean imagePresent(String image) {
        try {
            DockerClientFactory.instance().client().inspectImageCmd(image).exec();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    List<String> containersOfThisInstance() {
        DockerClient docker = DockerClientFactory.instance().client();
        return docker.listContainersCmd().withShowAll(true).withLabelFilter(Map.of(DockerSettings.LABEL_INSTANCE, instance)).exec()
                .stream().map(c -> c.getId()).toList();
    }

    @Test
    void leavesNoSidecarBehindAfterSuccessFailureOrTimeout() {
        streamsAToolsStdoutToTheConsumer();
        aWrongPasswordFailsWithTheToolsOwnMessage();
        aTimeoutKillsTheTool();
        assertThat(containersOfThisInstance()).isEmpty();
    }

    @Test
    void removesOrphanedSidecarsOfThisInstanceOnly() {
        DockerClient docker = DockerClientFactory.instance().client();
        String image = IMAGE.replace("{major}", "15");
        String orphan = docker.createContainerCmd(image).withCmd("sleep", "300")
                .withLabels(Map.of(DockerSettings.LABEL_INSTANCE, instance, DockerSettings.LABEL_JOB, "base-backup", DockerSettings.LABEL_RUN, "r1")).exec().getId();
        String other = docker.createContainerCmd(image).withCmd("sleep", "300")
                .withLabels(Map.of(DockerSettings.LABEL_INSTANCE, instance + "-other")).exec().getId();
        try {
            docker.startContainerCmd(orphan).exec();
            assertThat(((DockerToolRunner) runner).engine().removeOrphans()).isEqualTo(1);
            assertThat(containersOfThisInstance()).isEmpty();
            assertThat(docker.inspectContainerCmd(other).exec().getId()).isEqualTo(other);
        } finally {
            docker.removeContainerCmd(other).withForce(true).exec();
        }
    }

    @Test
    void aMissingImageWithPullsOffIsAClearError() {
        try (DockerToolRunner r = new DockerToolRunner(settings("local/no-such-image:{major}", RunnerConfig.Pull.NEVER, Optional.empty()))) {
            assertThatThrownBy(() -> r.run(invocation("pg_dump", PASSWORD, Duration.ofSeconds(10), "--version"), out -> { }))
                    .hasMessage("image 'local/no-such-image:15' is not present and runner.pull is 'never'; "
                            + "HINT: docker pull local/no-such-image:15, or build it, or set runner.pull: if-absent");
        }
    }

    @Test
    void anUnreachableDockerEngineIsAClearError() {
        try (DockerToolRunner r = new DockerToolRunner(settings(IMAGE, RunnerConfig.Pull.NEVER, Optional.of("unix:///nonexistent/docker.sock")))) {
            assertThatThrownBy(() -> r.run(invocation("pg_dump", PASSWORD, Duration.ofSeconds(10), "--version"), out -> { }))
                    .hasMessageStartingWith("cannot reach the Docker engine at unix:///nonexistent/docker.sock: ")
                    .hasMessageEndingWith("HINT: is dockerd running, and may this user use its socket? (or use runner type: process)");
        }
    }

    /**
     * A tool that stops reading its input early (head; in a restore, a tar that was killed or failed): its input is
     * closed, so whatever produces it does not wait forever for a reader (a restore into a volume hung there).
     */
    @Test
    void aToolThatStopsReadingItsInputReleasesTheProducer() throws Exception {
        io.pgwarden.io.BlockingPipe input = new io.pgwarden.io.BlockingPipe();
        java.util.concurrent.CompletableFuture<Void> producer = input.feedFrom(out -> {
            byte[] mib = new byte[1 << 20];
            for (int i = 0; i < 256; i++) out.write(mib); // far more than any pipe on the way holds
        }, 1 << 20, "test-input");
        long[] bytes = {0};
        ToolResult result = runner.run(new ToolInvocation("head", List.of("-c", "1000"), 15, Map.of(), Duration.ofMinutes(1), "test",
                "head-" + instance), input, out -> bytes[0] = out.transferTo(java.io.OutputStream.nullOutputStream()));
        assertThat(result.succeeded()).as(result.failureSummary("head")).isTrue();
        assertThat(bytes[0]).isEqualTo(1000);
        var ended = org.assertj.core.api.Assertions.catchThrowable(() -> producer.get(20, java.util.concurrent.TimeUnit.SECONDS));
        assertThat(ended).as("the producer must end, not wait for a reader").isInstanceOf(java.util.concurrent.ExecutionException.class);
        assertThat(io.pgwarden.error.Errors.causedBy(ended, io.pgwarden.io.BlockingPipe.ReaderGone.class)).as(String.valueOf(ended)).isTrue();
    }

    @Test
    void theSidecarCarriesItsLabels() {
        var seen = new java.util.concurrent.atomic.AtomicReference<Map<String, String>>();
        DockerClient docker = DockerClientFactory.instance().client();
        String run = "labels-" + instance; // unique: the container's name derives from it, and test classes run side by side
        ToolInvocation inv = new ToolInvocation("sleep", List.of("2"), 15, Map.of(), Duration.ofSeconds(30), "dump", run);
        runner.run(inv, out -> {
            var c = docker.listContainersCmd().withLabelFilter(Map.of(DockerSettings.LABEL_RUN, run)).exec();
            if (!c.isEmpty()) seen.set(c.get(0).getLabels());
            out.readAllBytes();
        });
        assertThat(seen.get()).containsEntry(DockerSettings.LABEL_INSTANCE, instance).containsEntry(DockerSettings.LABEL_JOB, "dump")
                .containsEntry(DockerSettings.LABEL_RUN, run);
    }
}
