package io.pgwarden.restore;

import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.RestoreTestConfig;
import io.pgwarden.config.RunnerConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.RestoreTestRecord;
import io.pgwarden.repository.RestoreTestRecord.CheckResult;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.storage.StorageDriver;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A test restore, as an operator would do it at 3 a.m.: plan from the repository, restore the newest base backup
 * into a scratch directory, start PostgreSQL on it (WAL through this daemon's endpoint), wait until it has
 * replayed every archived WAL file and promoted, run the checks, and remove everything it created. The result,
 * success or not, is recorded in the repository with the measured time.
 */
public final class TestRestoreService {
    private static final Logger log = LoggerFactory.getLogger(TestRestoreService.class);

    private final PgwardenConfig config;
    private final StorageDriver storage;
    private final Clock clock;

    public TestRestoreService(PgwardenConfig config, StorageDriver storage, Clock clock) {
        this.config = config;
        this.storage = storage;
        this.clock = clock;
    }

    public RestoreTestRecord run(String cluster, String id) {
        ClusterConfig clusterConfig = config.cluster(cluster);
        RestoreTestConfig settings = clusterConfig.restoreTest();
        if (clusterConfig.runner().type() != RunnerConfig.Type.PROCESS) {
            throw new PgwardenException(ErrorCode.CONFIG, "cluster '" + cluster + "': test restores run with the process runner only in this"
                    + " version (local PostgreSQL binaries in runner.binDir); the docker runner's is being built");
        }
        Instant started = clock.instant();
        long t0 = System.nanoTime();
        Path scratch = settings.scratchDir().resolve(cluster + "-" + id);
        RestorePlan plan = null;
        List<CheckResult> checks = new ArrayList<>();
        double recoverySeconds = 0;
        Instant recoveredTo = null;
        String error = null;
        try {
            plan = new RestorePlanner(storage, new WalRepository(storage, config.repository()))
                    .plan(cluster, new RestoreTarget.Latest(), Optional.empty(), OptionalInt.empty());
            Path data = prepareScratch(scratch);
            new Restorer(storage).restore(plan, data, new RecoverySettings(RestoreCommands.viaDaemon(config, cluster, scratch.resolve("auth-header")), new RestoreTarget.Latest(),
                    "promote", OptionalInt.empty(), "test restore " + id + " by pgwarden"), new Progress(new PrintWriter(new StringWriter()),
                    plan.backup().rawBytes(), false));
            // The scratch copy is reached through its own socket only: production's pg_hba.conf does not apply to it.
            Files.writeString(data.resolve("pg_hba.conf"), "local all all trust\n");
            handOver(scratch);
            Path bin = Path.of(clusterConfig.runner().binDir().replace("{major}", Integer.toString(plan.backup().pgVersionNum() / 10000)));
            // Socket-only and archiving off: a scratch copy is never reached by clients nor archives into the repository.
            try (LocalServer server = new LocalServer(bin, data, scratch.resolve("server.log"), scratch, 5432, "", false)) {
                long r0 = System.nanoTime();
                server.start(settings.timeout());
                server.awaitPromoted(settings.timeout());
                recoverySeconds = (System.nanoTime() - r0) / 1e9;
                recoveredTo = server.recoveredTo().orElse(null);
                checks = runChecks(server, settings);
            }
            CheckResult failed = checks.stream().filter(c -> !c.passed()).findFirst().orElse(null);
            if (failed != null) {
                error = "check failed on database '" + failed.database() + "': " + failed.sql() + " returned '" + failed.actual()
                        + "', expected '" + failed.expect() + "'";
            }
        } catch (RuntimeException | IOException e) {
            error = e.getMessage();
        } finally {
            delete(scratch);
        }
        RestoreTestRecord record = new RestoreTestRecord(1, id, cluster, plan == null ? null : plan.backup().backupId(), "latest",
                plan == null ? 0 : plan.timeline(), started, clock.instant(), (System.nanoTime() - t0) / 1e9, recoverySeconds, recoveredTo,
                error == null ? "succeeded" : "failed", checks, error);
        RepositoryJson.write(storage, RepositoryLayout.restoreTestRecord(cluster, id), record);
        if (record.succeeded()) {
            log.info("cluster '{}': test restore {} succeeded: base backup {}, recovered to {}, {}s in total ({}s of WAL replay)", cluster, id,
                    record.backupId(), recoveredTo, Math.round(record.totalSeconds()), Math.round(recoverySeconds));
        } else {
            log.error("cluster '{}': test restore {} failed: {}", cluster, id, error);
        }
        return record;
    }

    private static Path prepareScratch(Path scratch) throws IOException {
        if (Files.exists(scratch)) delete(scratch);
        Files.createDirectories(scratch);
        return scratch.resolve("data");
    }

    /** PostgreSQL refuses to run as root: when pgwarden is root, the scratch copy belongs to postgres. */
    private static void handOver(Path scratch) throws IOException {
        if (!LocalServer.asRoot()) return;
        try {
            Process p = new ProcessBuilder("chown", "-R", "postgres:postgres", scratch.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (p.waitFor() != 0) throw new IOException("chown -R postgres " + scratch + " failed: " + out.strip());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** The configured checks; without any, connecting and listing the databases is the check. */
    private static List<CheckResult> runChecks(LocalServer server, RestoreTestConfig settings) {
        List<RestoreTestConfig.Check> checks = settings.checks().isEmpty()
                ? List.of(new RestoreTestConfig.Check("postgres", "SELECT count(*) > 0 FROM pg_database WHERE NOT datistemplate", "t"))
                : settings.checks();
        List<CheckResult> results = new ArrayList<>();
        for (RestoreTestConfig.Check c : checks) {
            String actual;
            try {
                actual = server.query(c.database(), c.sql());
            } catch (PgwardenException e) {
                actual = "ERROR: " + e.getMessage();
            }
            results.add(new CheckResult(c.database(), c.sql(), c.expect(), actual, actual.equals(c.expect().strip())));
        }
        return results;
    }

    private static void delete(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log.warn("cannot remove the scratch directory '{}': {}", dir, e.getMessage());
        }
    }
}
