package io.pgwarden.restore;

import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.RestoreTestConfig;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.RestoreTestRecord;
import io.pgwarden.repository.RestoreTestRecord.CheckResult;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
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
    private final PitrRestore restore;
    private final Clock clock;

    public TestRestoreService(PgwardenConfig config, StorageDriver storage, Clock clock) {
        this.config = config;
        this.storage = storage;
        this.restore = new PitrRestore(config, storage, new WalRepository(storage, config.repository()));
        this.clock = clock;
    }

    /** A test restore to {@code target}: the end of the archived WAL for scheduled ones; the quickstart proves PITR with a time. */
    public RestoreTestRecord run(String cluster, String id, ToolRunner runner, RestoreTarget target) {
        RestoreTestConfig settings = config.cluster(cluster).restoreTest();
        Instant started = clock.instant();
        long t0 = System.nanoTime();
        RestorePlan plan = null;
        Measured measured = new Measured(0, null, List.of());
        String error = null;
        try {
            plan = restore.plan(cluster, target, Optional.empty(), OptionalInt.empty());
            measured = restoreAndCheck(cluster, id, runner, plan, settings, target);
            CheckResult failed = measured.checks().stream().filter(c -> !c.passed()).findFirst().orElse(null);
            if (failed != null) {
                error = "check failed on database '" + failed.database() + "': " + failed.sql() + " returned '" + failed.actual()
                        + "', expected '" + failed.expect() + "'";
            }
        } catch (RuntimeException e) {
            error = e.getMessage();
        }
        List<CheckResult> checks = measured.checks();
        double recoverySeconds = measured.recoverySeconds();
        Instant recoveredTo = measured.recoveredTo();
        List<RestoreTestRecord.DumpCheck> dumpChecks = settings.dumps() ? testDumps(cluster, id, runner) : List.of();
        RestoreTestRecord.DumpCheck failedDump = dumpChecks.stream().filter(d -> d.error() != null).findFirst().orElse(null);
        if (error == null && failedDump != null) error = "dump test restore of database '" + failedDump.database() + "' failed: " + failedDump.error();
        RestoreTestRecord record = new RestoreTestRecord(1, id, cluster, plan == null ? null : plan.backup().backupId(),
                target instanceof RestoreTarget.Latest ? "latest" : target.describe(),
                plan == null ? 0 : plan.timeline(), started, clock.instant(), (System.nanoTime() - t0) / 1e9, recoverySeconds, recoveredTo,
                error == null ? "succeeded" : "failed", checks, dumpChecks, error);
        RepositoryJson.write(storage, RepositoryLayout.restoreTestRecord(cluster, id), record);
        if (record.succeeded()) {
            log.info("cluster '{}': test restore {} succeeded: base backup {}, recovered to {}, {}s in total ({}s of WAL replay)", cluster, id,
                    record.backupId(), recoveredTo, Math.round(record.totalSeconds()), Math.round(recoverySeconds));
        } else {
            log.error("cluster '{}': test restore {} failed: {}", cluster, id, error);
        }
        return record;
    }

    /** What a started copy showed: WAL replay time (start to promotion), the last replayed commit, the checks. */
    private record Measured(double recoverySeconds, Instant recoveredTo, List<CheckResult> checks) {
    }

    /**
     * The recipe: a scratch site (a directory and the host's binaries, WAL through this daemon; or a volume filled by
     * sidecars, PostgreSQL in a container with no network), filled, started, promoted, checked, and removed.
     */
    private Measured restoreAndCheck(String cluster, String id, ToolRunner runner, RestorePlan plan, RestoreTestConfig settings,
                                     RestoreTarget target) {
        RestoreSite site = restore.scratch(cluster, id, runner);
        try {
            site.fill(plan, new RestoreSite.Recovery(target, "promote", OptionalInt.empty(), "test restore " + id + " by pgwarden"),
                    Progress.silent(plan.rawBytes()));
            long r0 = System.nanoTime();
            try (RestoredServer server = site.start(plan, RestoreSite.ServerStart.scratch(settings.timeout()))) {
                server.awaitPromoted(settings.timeout());
                double recoverySeconds = (System.nanoTime() - r0) / 1e9;
                return new Measured(recoverySeconds, server.recoveredTo().orElse(null), runChecks(server, settings));
            }
        } finally {
            site.remove();
        }
    }

    /** The newest dump of each database, restored into a scratch database, its TOC's tables counted, then dropped. */
    private List<RestoreTestRecord.DumpCheck> testDumps(String cluster, String id, ToolRunner runner) {
        List<RestoreTestRecord.DumpCheck> out = new ArrayList<>();
        DumpRestoreService dumps = new DumpRestoreService(config, storage);
        List<io.pgwarden.repository.DumpManifest> all = new io.pgwarden.repository.Catalog(storage).dumps(cluster);
        java.util.Map<String, io.pgwarden.repository.DumpManifest> newest = new java.util.TreeMap<>();
        for (var d : all) if (!d.isGlobals()) newest.merge(d.database(), d, (a, b) -> a.stopTime().isAfter(b.stopTime()) ? a : b);
        int n = 0;
        for (var dump : newest.values()) {
            // A name no application uses, within PostgreSQL's 63 bytes.
            String scratch = "pgwarden_test_" + id.toLowerCase().replace('-', '_') + "_" + (n++);
            long t0 = System.nanoTime();
            try {
                List<String> tables = dumps.tablesWithData(cluster, runner, dump);
                dumps.restore(cluster, runner, dump, scratch, false);
                out.add(new RestoreTestRecord.DumpCheck(dump.database(), dump.dumpId(), dumps.rowCounts(cluster, scratch, tables),
                        (System.nanoTime() - t0) / 1e9, null));
            } catch (RuntimeException e) {
                out.add(new RestoreTestRecord.DumpCheck(dump.database(), dump.dumpId(), java.util.Map.of(), (System.nanoTime() - t0) / 1e9,
                        e.getMessage()));
            } finally {
                try {
                    dumps.drop(cluster, scratch);
                } catch (RuntimeException e) {
                    log.warn("{}", e.getMessage());
                }
            }
        }
        return out;
    }

    /** The configured checks; without any, connecting and listing the databases is the check. */
    private static List<CheckResult> runChecks(RestoredServer server, RestoreTestConfig settings) {
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
}
