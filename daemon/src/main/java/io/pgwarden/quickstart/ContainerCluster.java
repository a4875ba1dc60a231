package io.pgwarden.quickstart;

import io.pgwarden.config.RunnerConfig;
import io.pgwarden.config.Secret;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.restore.RestoredServer;
import io.pgwarden.runner.DockerSettings;
import io.pgwarden.runner.DockerToolRunner;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The quickstart's PostgreSQL where the host has no server binaries: a container from {@code image} on a new volume,
 * on the host's network (listening on loopback only), so archive_command reaches the daemon at 127.0.0.1 and the
 * daemon's own sidecars reach the server there. Queries run in psql sidecars over the same loopback.
 */
final class ContainerCluster implements RestoredServer {
    static final String MOUNT = "/var/lib/postgresql/data";
    /**
     * Run as root in the container: initdb on first start, the auth header for archive_command, then postgres.
     * Images without curl (the official postgres images have none) archive through {@link #PUSH_SCRIPT}.
     */
    private static final String SCRIPT = """
            set -e
            D=%1$s/pgdata
            if ! command -v curl >/dev/null; then
              printf '%%s\n' "$PGW_PUSH_SCRIPT" > %1$s/push-wal.sh
              PGW_ARCHIVE="bash %1$s/push-wal.sh %%p %%f"
            fi
            mkdir -p "$D"; chown postgres:postgres %1$s "$D"; chmod 700 "$D"
            if [ ! -s "$D/PG_VERSION" ]; then
              printf '%%s\\n' "$PGW_PASSWORD" > /tmp/pw; chown postgres /tmp/pw
              runuser -u postgres -- initdb -D "$D" -U postgres --pwfile=/tmp/pw --auth-local=trust --auth-host=scram-sha-256 >/dev/null
              rm /tmp/pw
            fi
            umask 077; printf '%%s\\n' "$PGW_HEADER" > %1$s/auth-header; chown postgres %1$s/auth-header
            exec runuser -u postgres -- postgres -D "$D" -c port="$PGW_PORT" -c listen_addresses=127.0.0.1 \\
              -c unix_socket_directories=/tmp -c archive_mode=on -c archive_command="$PGW_ARCHIVE"
            """.formatted(MOUNT);

    /**
     * archive_command without curl: one PUT over bash's /dev/tcp. Only a 2xx status line counts as archived; anything
     * else (or a broken connection) exits non-zero and PostgreSQL keeps the file and retries.
     */
    private static final String PUSH_SCRIPT = """
            set -e
            size=$(stat -c %%s "$1")
            exec 3<>/dev/tcp/127.0.0.1/%1$s
            printf 'PUT /v1/clusters/%2$s/wal/%%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%%s\r\nContent-Length: %%s\r\nConnection: close\r\n\r\n' \
              "$2" "$(cat %3$s/auth-header)" "$size" >&3
            cat "$1" >&3
            read -r proto status rest <&3
            case "$status" in 2??) exit 0 ;; *) echo "pgwarden answered $status $rest" >&2; exit 1 ;; esac
            """;

    private final DockerToolRunner docker;
    private final String image;
    private final String runId;
    private final String volume;
    private final int port;
    private final String password;
    private final AtomicInteger invocations = new AtomicInteger();
    private int major;
    private boolean volumeCreated;
    private String containerId;

    ContainerCluster(String image, String instance, int port, String password) {
        this.docker = new DockerToolRunner(new DockerSettings(Optional.empty(), image, "host", RunnerConfig.Pull.IF_ABSENT, Optional.empty(),
                Optional.empty(), instance, Optional.empty()));
        this.image = image;
        this.runId = Long.toString(ProcessHandle.current().pid());
        this.volume = "pgwarden-quickstart-" + runId;
        this.port = port;
        this.password = password;
    }

    /** Checks the image (pulls it only when absent) and creates the data volume; returns the server's version. */
    String prepare() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ToolResult r = docker.run(invocation("postgres", List.of("--version"), Map.of(), ToolInvocation.Container.DEFAULT), in -> in.transferTo(out));
        String text = out.toString(StandardCharsets.UTF_8).strip();
        var m = java.util.regex.Pattern.compile("\\(PostgreSQL\\) ((\\d+)(\\.\\d+)?)").matcher(text);
        if (!r.succeeded() || !m.find()) {
            throw new PgwardenException(ErrorCode.TOOL, "image '" + image + "' has no PostgreSQL server on its PATH: 'postgres --version' "
                    + (r.succeeded() ? "printed '" + text + "'" : r.failureSummary("postgres")));
        }
        major = Integer.parseInt(m.group(2));
        docker.engine().createVolume(volume, "quickstart", runId, false);
        volumeCreated = true;
        return m.group(1);
    }

    /** Starts the server (initdb first) and waits until it answers. */
    void start(String authHeader, String archiveCommand, int daemonPort, Duration timeout) {
        ToolInvocation server = invocation("bash", List.of("-c", SCRIPT), Map.of("PGW_PASSWORD", new Secret(password),
                "PGW_HEADER", new Secret(authHeader), "PGW_PORT", new Secret(Integer.toString(port)), "PGW_ARCHIVE", new Secret(archiveCommand),
                "PGW_PUSH_SCRIPT", new Secret(PUSH_SCRIPT.formatted(daemonPort, Quickstart.CLUSTER, MOUNT))),
                new ToolInvocation.Container(Optional.of(volume), MOUNT, Optional.of("root"), Optional.of("host")));
        containerId = docker.engine().startServer(server, null, false);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!docker.engine().isRunning(containerId)) {
                throw new PgwardenException(ErrorCode.TOOL, "PostgreSQL's container stopped: " + logTail());
            }
            try {
                query("postgres", "SELECT 1");
                return;
            } catch (PgwardenException notYet) {
                if (System.nanoTime() > deadline) {
                    throw new PgwardenException(ErrorCode.TOOL, "PostgreSQL's container did not answer within " + timeout.toSeconds() + "s: "
                            + logTail());
                }
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new PgwardenException(ErrorCode.TOOL, "interrupted", e);
            }
        }
    }

    @Override
    public String query(String database, String sql) {
        Map<String, Secret> libpq = Map.of("PGHOST", new Secret("127.0.0.1"), "PGPORT", new Secret(Integer.toString(port)),
                "PGUSER", new Secret("postgres"), "PGPASSWORD", new Secret(password));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ToolResult r = docker.run(invocation("psql", List.of("-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql), libpq,
                new ToolInvocation.Container(Optional.empty(), "", Optional.empty(), Optional.of("host"))), in -> in.transferTo(out));
        if (!r.succeeded()) throw new PgwardenException(ErrorCode.TOOL, r.failureSummary("psql"));
        return out.toString(StandardCharsets.UTF_8).strip();
    }

    @Override
    public String logTail() {
        return containerId == null ? "(not started)" : docker.engine().logTail(containerId, 8);
    }

    /** What an operator types to reach the server (its own socket, trust). */
    String psqlCommand() {
        return "docker exec -it -u postgres " + DockerToolRunner.containerName("quickstart-server", runId) + " psql -h /tmp -p " + port
                + " -U postgres";
    }

    @Override
    public String describe() {
        return "in container " + (containerId == null ? "(not started)" : containerId.substring(0, Math.min(12, containerId.length())))
                + " on volume " + volume + ", on 127.0.0.1:" + port;
    }

    @Override
    public String stopHint() {
        return "the quickstart stops and removes it when it ends";
    }

    @Override
    public boolean running() {
        return containerId != null && docker.engine().isRunning(containerId);
    }

    @Override
    public void close() {
        if (containerId != null) docker.engine().removeContainer(containerId);
        containerId = null;
        if (volumeCreated) docker.engine().removeVolume(volume);
        volumeCreated = false;
        docker.close();
    }

    private ToolInvocation invocation(String tool, List<String> args, Map<String, Secret> env, ToolInvocation.Container placement) {
        String job = tool.equals("bash") ? "quickstart-server" : "quickstart-" + tool;
        String id = tool.equals("bash") ? runId : runId + "-" + invocations.incrementAndGet();
        return new ToolInvocation(tool, args, major, env, Duration.ofMinutes(5), job, id, placement);
    }
}
