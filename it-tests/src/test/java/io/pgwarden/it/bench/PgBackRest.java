package io.pgwarden.it.bench;

import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Debian's pgBackRest as the benchmarks' baseline, on the same S3Proxy (over HTTPS: pgBackRest speaks nothing else to
 * S3) and the same PostgreSQL cluster; run as the postgres user, as PostgreSQL's archiver would. One instance is one
 * configuration file and one repository path, so a synchronous and an asynchronous archive never share objects.
 */
final class PgBackRest {
    static final String STANZA = "bench";

    private final Path config;
    private Network network = Network.loopback();

    /**
     * @param repoPath  the repository's path in the bucket (one per mode measured)
     * @param extra     more [global] options, e.g. archive-async=y
     */
    PgBackRest(Path dir, String name, S3Server s3, String bucket, String repoPath, PgCluster pg, String... extra) throws Exception {
        Path home = Files.createDirectories(dir.resolve(name));
        for (String sub : List.of("log", "lock", "spool")) Files.createDirectories(home.resolve(sub));
        config = home.resolve("pgbackrest.conf");
        List<String> lines = new ArrayList<>(List.of("[global]", "repo1-type=s3", "repo1-path=" + repoPath, "repo1-s3-bucket=" + bucket,
                "repo1-s3-endpoint=" + s3.endpoint().getHost(), "repo1-storage-port=" + s3.port(), "repo1-s3-region=us-east-1",
                "repo1-s3-key=" + S3Server.ACCESS_KEY, "repo1-s3-key-secret=" + S3Server.SECRET_KEY, "repo1-s3-uri-style=path",
                "repo1-storage-verify-tls=n", "repo1-retention-full=2",
                // Level 1, as pgwarden's default: the baseline does the same work per byte.
                "compress-type=zst", "compress-level=1",
                "log-path=" + home.resolve("log"), "lock-path=" + home.resolve("lock"), "spool-path=" + home.resolve("spool"),
                "log-level-console=warn", "log-level-file=off", "start-fast=y"));
        lines.addAll(List.of(extra));
        lines.addAll(List.of("[" + STANZA + "]", "pg1-path=" + pg.dataDir(), "pg1-port=" + pg.port(), "pg1-socket-path=" + pg.socketDir(),
                "pg1-user=postgres"));
        Files.writeString(config, String.join("\n", lines) + "\n");
        Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", home.toString()), null), "chown " + home);
    }

    /** Fails with the install command when Debian's package is missing. */
    static void requireInstalled() {
        if (Processes.run(List.of("sh", "-c", "command -v pgbackrest"), null).exitCode() != 0) {
            throw new IllegalStateException("the baseline needs Debian's pgBackRest: apt-get install -y pgbackrest");
        }
    }

    static String version() {
        return Processes.run(List.of("pgbackrest", "version"), null).stdout().strip();
    }

    /** stanza-create: needs the cluster running (pgBackRest reads its system identifier from it). */
    void createStanza() {
        Processes.checked(run("stanza-create"), "pgbackrest stanza-create");
    }

    /** Runs it on the database host of {@code network} (in its namespace when the link is shaped). */
    PgBackRest on(Network network) {
        this.network = network;
        return this;
    }

    Processes.Result run(String... args) {
        List<String> command = new ArrayList<>();
        if (Processes.isRoot()) command.addAll(List.of("runuser", "-u", "postgres", "--"));
        command.addAll(List.of("pgbackrest", "--config=" + config, "--stanza=" + STANZA));
        command.addAll(List.of(args));
        return Processes.run(network.onDbHost(command), Path.of("/tmp"));
    }
}
