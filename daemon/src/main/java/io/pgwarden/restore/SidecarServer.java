package io.pgwarden.restore;

import io.pgwarden.config.Secret;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.runner.DockerToolRunner;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * PostgreSQL running in a container on a restored volume. Queries run in short psql sidecars that share the
 * volume, where the server's socket is: no network, no password, and nothing published on the host.
 */
final class SidecarServer implements RestoredServer {
    private static final int MAX_OUTPUT = 1 << 20;

    private final DockerToolRunner docker;
    private final String containerId;
    private final String volume;
    private final int major;
    private final String runId;
    private final boolean keep;
    private final Integer publishedPort;
    private final AtomicInteger queries = new AtomicInteger();
    private final Map<String, Secret> environment;

    /**
     * @param environment libpq settings for psql: the socket directory and user of a scratch copy, or (a kept server with
     *                    production's pg_hba.conf) the cluster's connection user and password
     * @param keep        leave the server running on close (an operator's restore)
     */
    SidecarServer(DockerToolRunner docker, String containerId, String volume, int major, String runId, Map<String, Secret> environment,
                  boolean keep, Integer publishedPort) {
        this.publishedPort = publishedPort;
        this.docker = docker;
        this.containerId = containerId;
        this.volume = volume;
        this.major = major;
        this.runId = runId;
        this.environment = Map.copyOf(environment);
        this.keep = keep;
    }

    /** The container's name (what an operator types to docker). */
    public String name() {
        return DockerToolRunner.containerName("restored-server", runId);
    }

    @Override
    public String query(String database, String sql) {
        // psql runs as the image's postgres user so that it may use the socket in the volume.
        ToolInvocation psql = new ToolInvocation("psql", List.of("-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql), major,
                environment, Duration.ofMinutes(10), "restore-query", runId + "-q" + queries.incrementAndGet(),
                ToolInvocation.Container.onVolume(volume, VolumeRestorer.MOUNT, "postgres"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ToolResult result = docker.run(psql, in -> {
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) if (out.size() < MAX_OUTPUT) out.write(buf, 0, n);
        });
        if (!result.succeeded()) throw new PgwardenException(ErrorCode.TOOL, result.failureSummary("psql"));
        return out.toString(StandardCharsets.UTF_8).strip();
    }

    @Override
    public String describe() {
        return "in container " + name() + " on volume " + volume + (publishedPort == null ? " (no network)"
                : ", published on 127.0.0.1:" + publishedPort + " (production's pg_hba.conf applies)");
    }

    @Override
    public String stopHint() {
        return "stop it with: docker stop " + name() + "; remove it with: docker rm " + name() + " && docker volume rm " + volume;
    }

    @Override
    public String logTail() {
        return docker.engine().logTail(containerId, 8);
    }

    @Override
    public boolean running() {
        return docker.engine().isRunning(containerId);
    }

    @Override
    public void close() {
        if (!keep) docker.engine().removeContainer(containerId);
    }
}
