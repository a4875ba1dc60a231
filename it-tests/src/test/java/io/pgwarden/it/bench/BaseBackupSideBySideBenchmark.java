package io.pgwarden.it.bench;

import io.pgwarden.it.support.Certificates;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test: full base backups side by side with pgBackRest, in one run, of one pgbench database (scale
 * -Dbench.scale, default 100) into one S3Proxy (HTTPS, in memory): pgwarden through the process runner and, a second
 * daemon, through Docker sidecars with runner.streamDir, and a third reading the data directory itself
 * (baseBackup.method: files), each triggered through the admin API, timed by the daemon's own start and finish (its
 * backup includes waiting for its WAL in the repository); `pgbackrest backup --type=full` with
 * process-max 1 and 2 (zstd level 1 as pgwarden; archive-check=n, since the cluster archives to pgwarden), and the
 * shell pipeline pg_basebackup | zstd -1 | curl (the baseline), and the same with PostgreSQL compressing (server-zstd, two
 * workers, no manifest). Each is run twice, alternately, the better kept.
 * Run: cd it-tests && ../mvnw -B verify -Pbench -Dtest=BaseBackupSideBySideBenchmark -Dsurefire.failIfNoSpecifiedTests=false
 * Report in it-tests/target/bench/base-backup-side-by-side.txt. With -Dbench.link=1gbit (root), the database host
 * (PostgreSQL, the daemons, pgBackRest, the pipeline) runs in a network namespace behind a link of that rate to
 * S3Proxy ({@link Network}); the sidecar daemon is left out there (a sidecar on the host's network cannot reach a
 * server in the namespace); report in base-backup-side-by-side-1gbit.txt.
 */
@Tag("benchmark")
class BaseBackupSideBySideBenchmark {
    private static final int SCALE = Integer.getInteger("bench.scale", 100);
    /** -Dbench.checksums=true: initdb --data-checksums (pg_basebackup, pgBackRest and method files then verify pages). */
    private static final boolean CHECKSUMS = Boolean.getBoolean("bench.checksums");

    @Test
    void fullBaseBackupsSideBySideWithPgBackRest() throws Exception {
        PgBackRest.requireInstalled();
        Path dir = TestDirs.create("pgwarden-bbsbs-");
        Process daemon = null;
        Process dockerDaemon = null;
        Process filesDaemon = null;
        Process daemonCompressing = null;
        try (Network net = Network.fromProperty(); PgCluster pg = PgCluster.init(dir, "pg", 16, CHECKSUMS); S3Server s3 = new S3Server()) {
            Certificates.Ca ca = s3.startBehindPrivateCa(dir, "bench-ca", net.s3Address());
            s3.createBucketInStore("bench");
            // In the namespace the daemons listen on every address there: PostgreSQL's archive_command pushes to its
            // loopback, this JVM calls the admin API across the link.
            String listenOn = net.isShaped() ? "0.0.0.0" : "127.0.0.1";
            String serverYaml = net.isShaped() ? "allowPlaintext: true\n" : "";
            boolean sidecars = !net.isShaped();

            int port = TestDirs.freePort();
            Path config = PgwardenFixture.writeConfig(dir, listenOn + ":" + port, s3.repositoryYaml("bench", "pgwarden", ca.certificate()), serverYaml + "instance: bbsbs", """
                    connection: {host: 127.0.0.1, port: %d, user: postgres}
                    runner: {type: process}
                    """.formatted(pg.port()));
            // A second daemon, its own repository prefix, backing up through Docker sidecars whose output comes back
            // through named pipes (runner.streamDir); the cluster archives to both.
            Path dockerDir = Files.createDirectories(dir.resolve("docker"));
            int dockerPort = TestDirs.freePort();
            Path dockerConfig = PgwardenFixture.writeConfig(dockerDir, "127.0.0.1:" + dockerPort, s3.repositoryYaml("bench", "pgwarden-docker",
                    ca.certificate()), "instance: bbsbs-docker", """
                    connection: {host: 127.0.0.1, port: %d, user: postgres}
                    runner: {type: docker, image: "local/postgres:{major}", network: host, pull: never, streamDir: %s}
                    """.formatted(pg.port(), dockerDir.resolve("stream")));
            // A third, reading the data directory itself (baseBackup.method: files).
            Path filesDir = Files.createDirectories(dir.resolve("files"));
            int filesPort = TestDirs.freePort();
            Path filesConfig = PgwardenFixture.writeConfig(filesDir, listenOn + ":" + filesPort, s3.repositoryYaml("bench", "pgwarden-files",
                    ca.certificate()), serverYaml + "instance: bbsbs-files", """
                    connection: {host: 127.0.0.1, port: %d, user: postgres}
                    baseBackup: {method: files, dataDirectory: %s}
                    """.formatted(pg.port(), pg.dataDir()));
            // A fourth, the process runner with the daemon compressing (baseBackup.compressOn: daemon), as before PostgreSQL could.
            Path zDir = Files.createDirectories(dir.resolve("daemonz"));
            int zPort = TestDirs.freePort();
            Path zConfig = PgwardenFixture.writeConfig(zDir, listenOn + ":" + zPort, s3.repositoryYaml("bench", "pgwarden-daemonz",
                    ca.certificate()), serverYaml + "instance: bbsbs-daemonz", """
                    connection: {host: 127.0.0.1, port: %d, user: postgres}
                    runner: {type: process}
                    baseBackup: {compressOn: daemon}
                    """.formatted(pg.port()));
            pg.configure("archive_mode = on", "archive_command = '" + PgwardenFixture.archiveCommandWithHeaderFile(dir, port) + " && "
                            + PgwardenFixture.archiveCommandWithHeaderFile(zDir, zPort) + " && "
                            + (sidecars ? PgwardenFixture.archiveCommandWithHeaderFile(dockerDir, dockerPort) + " && " : "")
                            + PgwardenFixture.archiveCommandWithHeaderFile(filesDir, filesPort) + "'", "max_wal_size = '4GB'").startVia(net::onDbHost);
            Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pgbench").toString(), "-h", pg.socketDir().toString(), "-p",
                    Integer.toString(pg.port()), "-U", "postgres", "-i", "-s", Integer.toString(SCALE), "-q", "postgres"), "pgbench -i");
            long dbBytes = Long.parseLong(pg.query("SELECT pg_database_size('postgres')"));
            pg.query("CHECKPOINT");
            String host = net.dbHostAddress();
            daemon = Launcher.startDaemon(net.onDbHost(List.of()), config, dir.resolve("daemon.log"), host, port);
            if (sidecars) dockerDaemon = Launcher.startDaemon(dockerConfig, dockerDir.resolve("daemon.log"), dockerPort);
            filesDaemon = Launcher.startDaemon(net.onDbHost(List.of()), filesConfig, filesDir.resolve("daemon.log"), host, filesPort);
            daemonCompressing = Launcher.startDaemon(net.onDbHost(List.of()), zConfig, zDir.resolve("daemon.log"), host, zPort);
            pg.awaitArchived(pg.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(10));

            PgBackRest one = new PgBackRest(dir, "br-p1", s3, "bench", "/pgbackrest-p1", pg, "archive-check=n", "process-max=1").on(net);
            PgBackRest two = new PgBackRest(dir, "br-p2", s3, "bench", "/pgbackrest-p2", pg, "archive-check=n", "process-max=2").on(net);
            one.createStanza();
            two.createStanza();

            String conn = " -h 127.0.0.1 -p " + pg.port() + " -U postgres ";
            String bb = PgCluster.BIN.resolve("pg_basebackup") + conn + "-D - -Ft -X none -c fast";
            String pipeline = "set -o pipefail; " + bb + " | zstd -1 -q | curl --fail -sS --cacert " + ca.certificate() + " --aws-sigv4"
                    + " aws:amz:us-east-1:s3 --user " + S3Server.ACCESS_KEY + ":" + S3Server.SECRET_KEY
                    + " -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T - " + s3.endpoint() + "/bench/pipeline/base.tar.zst";
            // What pg_basebackup does when PostgreSQL compresses (15+, two zstd threads in the walsender), to stdout: only
            // without a manifest ("cannot inject manifest into a compressed tar file"). pgwarden needs the manifest (a
            // standby's stop point, an incremental's parent) and has pg_basebackup write both into a directory instead.
            String serverCompressed = pipeline.replace(bb + " | zstd -1 -q", bb + " --compress=server-zstd:level=1,workers=2 --no-manifest");
            Processes.run(List.of("chmod", "a+r", ca.certificate().toString()), null);
            List<String> onDbHost = net.onDbHost(List.of());
            BackupBenchmark.shell(onDbHost, bb + " > /dev/null"); // warm-up: the page cache holds the data for every run alike

            HttpClient http = HttpClient.newHttpClient();
            double[] best = new double[8];
            java.util.Arrays.fill(best, Double.MAX_VALUE);
            double[] cpu = best.clone();
            List<java.util.concurrent.Callable<Double>> runs = List.of(
                    () -> BackupBenchmark.shell(onDbHost, pipeline) / 1e9,
                    () -> BackupBenchmark.runThroughDaemon(http, host, port, PgwardenFixture.ADMIN_TOKEN, "base").toNanos() / 1e9,
                    () -> timed(() -> one.run("backup", "--type=full")),
                    () -> timed(() -> two.run("backup", "--type=full")),
                    () -> sidecars ? BackupBenchmark.runThroughDaemon(http, dockerPort, PgwardenFixture.ADMIN_TOKEN, "base").toNanos() / 1e9 : Double.NaN,
                    () -> BackupBenchmark.runThroughDaemon(http, host, filesPort, PgwardenFixture.ADMIN_TOKEN, "base").toNanos() / 1e9,
                    () -> BackupBenchmark.shell(onDbHost, serverCompressed) / 1e9,
                    () -> BackupBenchmark.runThroughDaemon(http, host, zPort, PgwardenFixture.ADMIN_TOKEN, "base").toNanos() / 1e9);
            for (int round = 0; round < 2; round++) {
                for (int i = 0; i < runs.size(); i++) {
                    long busy = MachineCpu.busyMillis();
                    double seconds = runs.get(i).call();
                    best[i] = Double.isNaN(seconds) ? seconds : Math.min(best[i], seconds);
                    cpu[i] = Math.min(cpu[i], (MachineCpu.busyMillis() - busy) / 1e3);
                }
            }
            WalPushBenchmark.nativeMemorySummary(daemon.pid(), "base-backup-process");
            if (sidecars) WalPushBenchmark.nativeMemorySummary(dockerDaemon.pid(), "base-backup-sidecar");
            WalPushBenchmark.nativeMemorySummary(filesDaemon.pid(), "base-backup-files");
            WalPushBenchmark.nativeMemorySummary(daemonCompressing.pid(), "base-backup-daemon-compressing");
            double mb = dbBytes / 1e6;
            String text = """
                    Full base backups side by side: pgbench scale %d, database %.0f MB, %s, over HTTPS (in memory),
                    2 cores, zstd level 1 for all; data checksums %s; %s; the better of two runs each; cpu s: CPU time the whole
                    machine spent during the run (tool, PostgreSQL, S3Proxy; 2 cores give at most twice the run's time)
                      pg_basebackup | zstd -1 | curl -T - (baseline)      %7.1f MB/s  cpu %5.1f s
                      pg_basebackup, server-zstd workers 2, no manifest   %7.1f MB/s  cpu %5.1f s   %.2fx the pipeline, %.2fx pgBackRest process-max 2
                      pgwarden (process runner, PostgreSQL compressing)   %7.1f MB/s  cpu %5.1f s   %.2fx the pipeline, %.2fx pgBackRest process-max 2
                      pgwarden (process runner, the daemon compressing)   %7.1f MB/s  cpu %5.1f s   %.2fx the pipeline, %.2fx pgBackRest process-max 2
                      pgwarden (Docker sidecar, PostgreSQL compressing)   %7.1f MB/s  cpu %5.1f s   %.2fx the pipeline, %.2fx pgBackRest process-max 2
                      pgwarden (method files, the daemon reads PGDATA)    %7.1f MB/s  cpu %5.1f s   %.2fx the pipeline, %.2fx pgBackRest process-max 2
                      pgBackRest backup --type=full, process-max 1        %7.1f MB/s  cpu %5.1f s   pgwarden / it %.2fx (process runner), %.2fx (files)
                      pgBackRest backup --type=full, process-max 2        %7.1f MB/s  cpu %5.1f s   pgwarden / it %.2fx (process runner), %.2fx (files)
                      daemon peak RSS (VmHWM) %d MiB (process runner), %d MiB (daemon compressing), %d MiB (Docker sidecars), %d MiB (method files)
                    """.formatted(SCALE, mb, net.describe(), CHECKSUMS ? "on" : "off", PgBackRest.version(), mb / best[0], cpu[0], mb / best[6], cpu[6], best[0] / best[6], best[3] / best[6], mb / best[1], cpu[1], best[0] / best[1], best[3] / best[1],
                    mb / best[7], cpu[7], best[0] / best[7], best[3] / best[7],
                    mb / best[4], cpu[4], best[0] / best[4], best[3] / best[4], mb / best[5], cpu[5], best[0] / best[5], best[3] / best[5],
                    mb / best[2], cpu[2], best[2] / best[1], best[2] / best[5], mb / best[3], cpu[3], best[3] / best[1], best[3] / best[5],
                    WalPushBenchmark.peakRssKb(daemon.pid()) / 1024, WalPushBenchmark.peakRssKb(daemonCompressing.pid()) / 1024, sidecars ? WalPushBenchmark.peakRssKb(dockerDaemon.pid()) / 1024 : 0,
                    WalPushBenchmark.peakRssKb(filesDaemon.pid()) / 1024);
            if (!sidecars) {
                text = text.replaceAll("(?m)^(  pgwarden \\(Docker sidecar[^)]*\\)).*$", "$1 not run: a sidecar on the host's network cannot reach the namespace")
                        .replace(", 0 MB (Docker sidecars)", "");
            }
            System.out.print(text);
            Files.createDirectories(Path.of("target/bench"));
            Files.writeString(Path.of("target/bench/base-backup-side-by-side" + (CHECKSUMS ? "-checksums" : "")
                    + (net.isShaped() ? "-" + System.getProperty("bench.link") : "") + ".txt"), text);
        } finally {
            for (Process p : new Process[] {daemon, dockerDaemon, filesDaemon, daemonCompressing}) {
                if (p != null) {
                    p.destroy();
                    p.waitFor();
                }
            }
            // Kept for a look after the run (what the daemons logged, with PGWARDEN_JAVA_OPTS' diagnostics if asked for).
            for (String[] log : new String[][] {{"daemon.log", "process"}, {"docker/daemon.log", "docker"}, {"files/daemon.log", "files"},
                    {"daemonz/daemon.log", "daemon-compressing"}}) {
                if (Files.exists(dir.resolve(log[0]))) Files.copy(dir.resolve(log[0]), Path.of("target/bench/base-backup-daemon-" + log[1] + ".log"),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            TestDirs.delete(dir);
        }
    }

    private static double timed(java.util.function.Supplier<Processes.Result> call) {
        long start = System.nanoTime();
        Processes.checked(call.get(), "pgbackrest backup");
        return (System.nanoTime() - start) / 1e9;
    }
}
