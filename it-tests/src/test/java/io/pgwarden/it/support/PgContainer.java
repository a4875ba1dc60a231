package io.pgwarden.it.support;

import java.util.List;
import java.util.UUID;

/**
 * The seed's PostgreSQL: a container from the local postgres:15 image (or another major's) with its data on a named volume, its port
 * published on loopback, and an archive_command that pushes to a daemon on the host (host.docker.internal).
 * Driven with the docker CLI, as an operator would.
 */
public final class PgContainer implements AutoCloseable {
    public static final String IMAGE = image(15);
    private static final String SCRIPT = """
            set -e
            D=/var/lib/postgresql/data/pgdata
            if [ ! -s "$D/PG_VERSION" ]; then
              mkdir -p "$D"; chown -R postgres:postgres /var/lib/postgresql/data
              printf '%s\\n' "$PGW_PASSWORD" > /tmp/pw; chown postgres /tmp/pw
              runuser -u postgres -- /usr/lib/postgresql/$PGW_MAJOR/bin/initdb -D "$D" -U postgres --pwfile=/tmp/pw -A scram-sha-256 >/dev/null
              rm /tmp/pw
              echo "host all all all scram-sha-256" >> "$D/pg_hba.conf"
              echo "host replication all all scram-sha-256" >> "$D/pg_hba.conf"
            fi
            exec runuser -u postgres -- /usr/lib/postgresql/$PGW_MAJOR/bin/postgres -D "$D" -c listen_addresses='*' \\
              -c unix_socket_directories=/tmp -c archive_mode=on -c "archive_command=$PGW_ARCHIVE"
            """;

    private final String name;
    private final String volume;
    private final int port;
    private final String password;

    private PgContainer(String name, String volume, int port, String password) {
        this.name = name;
        this.volume = volume;
        this.port = port;
        this.password = password;
    }

    /** @param archiveCommand PostgreSQL's archive_command, run inside the container */
    public static PgContainer start(String password, String archiveCommand) {
        return start(password, archiveCommand, List.of());
    }

    /** @param runOptions more {@code docker run} options, e.g. a network, an alias, a mounted file */
    public static PgContainer start(String password, String archiveCommand, List<String> runOptions) {
        return start(15, password, archiveCommand, runOptions);
    }

    /** @param major the PostgreSQL major version: its image is local/postgres:MAJOR (it-tests/images/build-images.sh) */
    public static PgContainer start(int major, String password, String archiveCommand, List<String> runOptions) {
        String id = UUID.randomUUID().toString().substring(0, 8);
        String name = "pgw-it-pg-" + id;
        String volume = "pgw-it-data-" + id;
        docker("volume", "create", volume);
        List<String> run = new java.util.ArrayList<>(List.of("run", "-d", "--name", name, "--add-host", "host.docker.internal:host-gateway",
                "-p", "127.0.0.1::5432", "-v", volume + ":/var/lib/postgresql/data", "-e", "PGW_PASSWORD=" + password,
                "-e", "PGW_ARCHIVE=" + archiveCommand, "-e", "PGW_MAJOR=" + major));
        run.addAll(runOptions);
        run.addAll(List.of(image(major), "bash", "-c", SCRIPT));
        docker(run.toArray(String[]::new));
        String mapped = docker("port", name, "5432/tcp").lines().findFirst().orElseThrow();
        int port = Integer.parseInt(mapped.substring(mapped.lastIndexOf(':') + 1));
        PgContainer pg = new PgContainer(name, volume, port, password);
        pg.awaitReady();
        return pg;
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (Processes.run(List.of(PgCluster.BIN.resolve("pg_isready").toString(), "-h", "127.0.0.1", "-p", Integer.toString(port)), null)
                .exitCode() != 0) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("container " + name + " not ready: " + logs());
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    public static boolean imagePresent() {
        return imagePresent(15);
    }

    public static boolean imagePresent(int major) {
        return Processes.run(List.of("docker", "image", "inspect", image(major)), null).exitCode() == 0;
    }

    public static String image(int major) {
        return "local/postgres:" + major;
    }

    /** The server's data directory as this host sees it (the named volume's mount point): for baseBackup.method: files. */
    public java.nio.file.Path dataDirectoryOnHost() {
        return java.nio.file.Path.of(docker("volume", "inspect", "-f", "{{.Mountpoint}}", volume).strip(), "pgdata");
    }

    public String name() {
        return name;
    }

    public int port() {
        return port;
    }

    public Psql psql() {
        return new Psql("127.0.0.1", port, password);
    }

    public String logs() {
        var r = Processes.run(List.of("docker", "logs", "--tail", "50", name), null);
        return r.stdout() + r.stderr();
    }

    public static String docker(String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of("docker"));
        cmd.addAll(List.of(args));
        return Processes.checked(Processes.run(cmd, null), String.join(" ", cmd)).stdout();
    }

    /** Containers carrying a label value, e.g. io.pgwarden.instance=it-x (all states). */
    public static List<String> containersLabelled(String label) {
        return docker("ps", "-aq", "--filter", "label=" + label).lines().filter(l -> !l.isBlank()).toList();
    }

    @Override
    public void close() {
        Processes.run(List.of("docker", "rm", "-f", "-v", name), null);
        Processes.run(List.of("docker", "volume", "rm", "-f", volume), null);
    }
}
