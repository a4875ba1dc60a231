package io.pgwarden.quickstart;

import java.nio.file.Path;

/** The files the quickstart writes: pgwarden's configuration and the scratch server's archiving settings. */
final class QuickstartConfig {
    private QuickstartConfig() {
    }

    /**
     * Secrets by reference (${file:...}), as an operator's config would have them. The test restore's check is the
     * point of the exercise: batches 1 and 2 present, batch 3 (committed after the target) absent.
     * Schedules keep the daemon doing what it would in production while it runs; misfire skip, so nothing scheduled
     * starts at once and collides with the quickstart's own runs.
     */
    /** @param runnerYaml the cluster's runner: local binaries, or sidecars from the server's image on the host network */
    static String yaml(Path dir, Path pgHome, String runnerYaml, int pgPort, int daemonPort) {
        return """
                # Written by 'pgwarden quickstart'; removed with its directory on exit.
                server:
                  listen: 127.0.0.1:%2$d
                  adminToken: "${file:%1$s/admin.token}"
                  instance: pgwarden-quickstart
                repository:
                  type: filesystem
                  path: %1$s/repo
                  compression: zstd
                clusters:
                  %5$s:
                    walToken: "${file:%1$s/wal.token}"
                    connection: {host: 127.0.0.1, port: %3$d, user: postgres, password: "${file:%6$s/password}"}
                    runner: %4$s
                    baseBackup: {checkpoint: fast, walWait: 2m}
                    restoreTest:
                      scratchDir: %1$s/restore-test
                      timeout: 5m
                      checks:
                        - database: postgres
                          sql: "SELECT batch, count(*) FROM quickstart_orders GROUP BY batch ORDER BY batch"
                          expect: "1|%7$d\\n2|%7$d"
                    retention: {base: {keepLast: 3}, dump: {daily: 2}}
                    schedules: {base: "0 * * * *", dump: "30 * * * *", verify: "15 * * * *", retention: "45 * * * *", misfire: skip}
                """.formatted(dir, daemonPort, pgPort, runnerYaml, Quickstart.CLUSTER, pgHome, Quickstart.BATCH_ROWS);
    }

    /** curl to the daemon; the token stays in a 0600 header file, never in the server's settings. */
    static String archiveCommand(Path headerFile, int daemonPort) {
        return "curl --fail -sS -H @" + headerFile + " -T %p http://127.0.0.1:" + daemonPort + "/v1/clusters/" + Quickstart.CLUSTER + "/wal/%f";
    }

    /** Appended to postgresql.auto.conf of a cluster run from local binaries. */
    static String postgresqlSettings(String archiveCommand) {
        return "archive_mode = on\narchive_command = '" + archiveCommand + "'\nunix_socket_permissions = 0700\n";
    }
}
