package io.pgwarden.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Owns every meter name. Micrometer names are dotted; Prometheus shows them with underscores and unit suffixes
 * ({@code pgwarden.wal.archived} → {@code pgwarden_wal_archived_total}). Every meter carries {@code cluster}.
 */
public final class Metrics implements AutoCloseable {
    public static final String WAL_ARCHIVED = "pgwarden.wal.archived";
    public static final String WAL_ARCHIVED_BYTES = "pgwarden.wal.archived.bytes";
    public static final String WAL_PUSH = "pgwarden.wal.push";
    public static final String WAL_PUSH_FAILURES = "pgwarden.wal.push.failures";
    public static final String WAL_FETCHES = "pgwarden.wal.fetches";
    public static final String WAL_LAST_ARCHIVED = "pgwarden.wal.last.archived.timestamp";
    public static final String BACKUP_LAST_SUCCESS = "pgwarden.backup.last.success.timestamp";
    public static final String BACKUP_DURATION = "pgwarden.backup.duration";
    public static final String BACKUP_SIZE = "pgwarden.backup.size";
    public static final String BACKUP_FAILURES = "pgwarden.backup.failures";
    public static final String RESTORE_TEST_LAST_SUCCESS = "pgwarden.restore.test.last.success.timestamp";
    public static final String RESTORE_TEST_DURATION = "pgwarden.restore.test.duration";
    public static final String RESTORE_TEST_FAILURES = "pgwarden.restore.test.failures";
    public static final String RESTORE_TEST_LAST_FAILURE = "pgwarden.restore.test.last.failure.timestamp";
    public static final String RECOVERY_WINDOW = "pgwarden.recovery.window";
    public static final String RECOVERY_WINDOW_TARGET = "pgwarden.recovery.window.target";
    public static final String CLUSTER_UP = "pgwarden.cluster.up";
    public static final String RETENTION_DELETED = "pgwarden.retention.deleted.objects";
    public static final String RETENTION_FREED = "pgwarden.retention.freed.bytes";
    public static final String RETENTION_FAILURES = "pgwarden.retention.failures";
    public static final String REPOSITORY_SIZE = "pgwarden.repository.size";
    public static final String VERIFY_LAST_SUCCESS = "pgwarden.verify.last.success.timestamp";
    public static final String VERIFY_FAILURES = "pgwarden.verify.failures";
    public static final String VERIFY_LAST_FAILURE = "pgwarden.verify.last.failure.timestamp";
    public static final String STORAGE_OPERATIONS = "pgwarden.storage.operations";
    public static final String WAL_SPOOL_BACKLOG = "pgwarden.wal.spool.backlog";
    public static final String WAL_SPOOL_FILES = "pgwarden.wal.spool.files";
    public static final String WAL_SPOOL_OLDEST = "pgwarden.wal.spool.oldest.age";
    public static final String WAL_SPOOL_UPLOADS = "pgwarden.wal.spool.uploads";
    public static final String UPLOAD_BUFFERS = "pgwarden.upload.buffers";
    /** kind=base has no database; the label is still present (Prometheus meters of one name share label names). */
    public static final String NO_DATABASE = "";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Clock clock;
    // Gauges hold weak references: keep the state objects alive here.
    private final List<java.util.function.LongSupplier> spoolSuppliers = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final Map<String, AtomicLong> lastArchivedSeconds = new ConcurrentHashMap<>();
    private final Map<List<String>, AtomicLong> backupGauges = new ConcurrentHashMap<>();
    private final JvmGcMetrics gcMetrics = new JvmGcMetrics();

    public Metrics(Clock clock) {
        this.clock = clock;
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    /** Registers a cluster's meters up front, so dashboards and alerts see zeros rather than nothing. */
    public void registerCluster(String cluster) {
        archived(cluster);
        archivedBytes(cluster);
        pushTimer(cluster);
        AtomicLong last = lastArchivedSeconds.computeIfAbsent(cluster, c -> new AtomicLong());
        Gauge.builder(WAL_LAST_ARCHIVED, last, AtomicLong::get).tag("cluster", cluster).baseUnit("seconds")
                .description("when the last WAL file was archived (unix time)").register(registry);
    }

    /** @param storedBytes the object's size, added to repository_size_bytes{kind="wal"} until the next measurement */
    public void walArchived(String cluster, long rawBytes, long storedBytes, long nanos) {
        archived(cluster).increment();
        AtomicLong walSize = backupGauges.get(List.of(REPOSITORY_SIZE, cluster, "wal"));
        if (walSize != null) walSize.addAndGet(storedBytes);
        archivedBytes(cluster).increment(rawBytes);
        pushTimer(cluster).record(Duration.ofNanos(nanos));
        AtomicLong last = lastArchivedSeconds.get(cluster);
        if (last != null) last.set(clock.instant().getEpochSecond());
    }

    /** At start-up: the newest WAL object in the repository, so "time since the last archived file" survives a restart. */
    public void walArchivedAtLeast(String cluster, java.time.Instant when) {
        AtomicLong last = lastArchivedSeconds.get(cluster);
        if (last != null) last.accumulateAndGet(when.getEpochSecond(), Math::max);
    }

    /** Whether the cluster's server answered the last probe (1) or not (0); absent for clusters without a connection. */
    public void clusterUp(String cluster, boolean up) {
        backupGauges.computeIfAbsent(List.of(CLUSTER_UP, cluster), k -> gauge(CLUSTER_UP, cluster, null,
                "1 when the cluster's PostgreSQL server answered pgwarden's last probe, else 0")).set(up ? 1 : 0);
    }

    /** A push of a file already archived with identical content: a success, but not a new file. */
    public void walDuplicate(String cluster, long nanos) {
        pushTimer(cluster).record(Duration.ofNanos(nanos));
    }

    /** One repository operation (put, create, stat, get, list, delete, abort), of any cluster: the repository is shared. */
    public void storageOperation(String operation) {
        Counter.builder(STORAGE_OPERATIONS).tag("operation", operation)
                .description("repository operations by kind (a list on the WAL path would make pushes cost more as the archive grows)")
                .register(registry).increment();
    }

    /**
     * The upload memory (multipart parts, WAL spill buffers), read at each scrape: state=used and state=capacity, in
     * bytes; used at capacity for long means uploads wait for memory and pushes spill to disk.
     */
    public void registerUploadBuffers(java.util.function.LongSupplier used, long capacity) {
        spoolSuppliers.add(used);
        Gauge.builder(UPLOAD_BUFFERS, used, java.util.function.LongSupplier::getAsLong).tag("state", "used").baseUnit("bytes")
                .description("memory held by uploads in flight").register(registry);
        Gauge.builder(UPLOAD_BUFFERS, () -> capacity).tag("state", "capacity").baseUnit("bytes")
                .description("memory uploads may hold at most").register(registry);
    }

    /**
     * A cluster's WAL spool backlog, read at each scrape (all zero for a cluster without a spool), and its upload
     * counter, registered with the outcome "uploaded".
     */
    public void registerWalSpool(String cluster, java.util.function.LongSupplier bytes, java.util.function.LongSupplier files,
                                 java.util.function.LongSupplier oldestAgeSeconds) {
        spoolSuppliers.addAll(List.of(bytes, files, oldestAgeSeconds));
        Gauge.builder(WAL_SPOOL_BACKLOG, bytes, java.util.function.LongSupplier::getAsLong).tag("cluster", cluster).baseUnit("bytes")
                .description("stored bytes of acknowledged WAL files waiting in the spool for their upload").register(registry);
        Gauge.builder(WAL_SPOOL_FILES, files, java.util.function.LongSupplier::getAsLong).tag("cluster", cluster)
                .description("acknowledged WAL files waiting in the spool for their upload").register(registry);
        Gauge.builder(WAL_SPOOL_OLDEST, oldestAgeSeconds, java.util.function.LongSupplier::getAsLong).tag("cluster", cluster)
                .baseUnit("seconds").description("how long the oldest file in the spool has waited for its upload (0: none waits)")
                .register(registry);
        spoolUploads(cluster, "uploaded");
    }

    /** @param outcome uploaded, retried (the repository failed; tried again) or conflict (different content archived; kept aside) */
    public void walSpoolUpload(String cluster, String outcome) {
        spoolUploads(cluster, outcome).increment();
    }

    private Counter spoolUploads(String cluster, String outcome) {
        return Counter.builder(WAL_SPOOL_UPLOADS).tag("cluster", cluster).tag("outcome", outcome)
                .description("uploads of spooled WAL files, by outcome").register(registry);
    }

    /** A WAL GET answered 200, by source: read-ahead (the read-ahead directory), spool (acknowledged, not yet uploaded), repository. */
    public void walFetched(String cluster, String source) {
        Counter.builder(WAL_FETCHES).tag("cluster", cluster).tag("source", source)
                .description("WAL files served to restore_command, by where they came from").register(registry).increment();
    }

    public void walPushFailed(String cluster, String reason) {
        Counter.builder(WAL_PUSH_FAILURES).tag("cluster", cluster).tag("reason", reason)
                .description("WAL pushes answered with an error, by reason").register(registry).increment();
    }

    private Counter archived(String cluster) {
        return Counter.builder(WAL_ARCHIVED).tag("cluster", cluster).description("WAL files newly archived").register(registry);
    }

    private Counter archivedBytes(String cluster) {
        return Counter.builder(WAL_ARCHIVED_BYTES).tag("cluster", cluster).baseUnit("bytes")
                .description("raw bytes of WAL files newly archived").register(registry);
    }

    private Timer pushTimer(String cluster) {
        return Timer.builder(WAL_PUSH).tag("cluster", cluster).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(60))
                .description("time to receive, store and acknowledge a WAL file").register(registry);
    }

    /**
     * A successful backup of one kind (base, dump, globals) and database: when it finished, how long it took,
     * and its raw and stored sizes, as gauges of the last success.
     */
    public void backupSucceeded(String cluster, String kind, String database, Duration duration, long rawBytes, long storedBytes) {
        backupGauge(BACKUP_LAST_SUCCESS, "seconds", "when the last successful backup finished (unix time)", cluster, kind, database)
                .set(clock.instant().getEpochSecond());
        backupGauge(BACKUP_DURATION, "seconds", "how long the last successful backup took", cluster, kind, database)
                .set(duration.toSeconds());
        backupSize(cluster, kind, database, "raw").set(rawBytes);
        backupSize(cluster, kind, database, "stored").set(storedBytes);
    }

    /** @param reason tool, wal-missing, repository, integrity, config, busy, internal */
    public void backupFailed(String cluster, String kind, String reason) {
        backupFailures(cluster, kind, reason).increment();
    }

    /** Registers the backup meters of a scheduled kind up front, so "never succeeded" shows as 0, not as nothing. */
    public void registerBackupKind(String cluster, String kind) {
        backupGauge(BACKUP_LAST_SUCCESS, "seconds", "when the last successful backup finished (unix time)", cluster, kind, NO_DATABASE);
        backupFailures(cluster, kind, "tool");
    }

    private AtomicLong backupSize(String cluster, String kind, String database, String stage) {
        return backupGauges.computeIfAbsent(List.of(BACKUP_SIZE, cluster, kind, database, stage), k -> {
            AtomicLong v = new AtomicLong();
            Gauge.builder(BACKUP_SIZE, v, AtomicLong::get).tags("cluster", cluster, "kind", kind, "database", database, "stage", stage)
                    .baseUnit("bytes").description("size of the last successful backup: raw (tool output) or stored (compressed)")
                    .register(registry);
            return v;
        });
    }

    private AtomicLong backupGauge(String name, String unit, String description, String cluster, String kind, String database) {
        return backupGauges.computeIfAbsent(List.of(name, cluster, kind, database), k -> {
            AtomicLong v = new AtomicLong();
            Gauge.builder(name, v, AtomicLong::get).tags("cluster", cluster, "kind", kind, "database", database).baseUnit(unit)
                    .description(description).register(registry);
            return v;
        });
    }

    private Counter backupFailures(String cluster, String kind, String reason) {
        return Counter.builder(BACKUP_FAILURES).tags("cluster", cluster, "kind", kind, "reason", reason)
                .description("backup runs that failed, by reason").register(registry);
    }

    /**
     * Registers the recovery window of a cluster (0 until known) and the window retention is to keep (0: none
     * configured), so alerts can compare the two.
     */
    public void registerRecoveryWindow(String cluster, Duration target) {
        AtomicLong earliest = backupGauges.computeIfAbsent(List.of(RECOVERY_WINDOW, cluster), k -> new AtomicLong());
        Gauge.builder(RECOVERY_WINDOW, earliest, e -> e.get() == 0 ? 0 : Math.max(0, clock.instant().getEpochSecond() - e.get()))
                .tag("cluster", cluster).baseUnit("seconds").description("how far back point-in-time recovery reaches now: now minus the"
                        + " end of the oldest committed base backup (0: nothing restorable)").register(registry);
        backupGauges.computeIfAbsent(List.of(RECOVERY_WINDOW_TARGET, cluster), k -> gauge(RECOVERY_WINDOW_TARGET, cluster, "seconds",
                "the point-in-time recovery window retention is configured to keep (clusters.<name>.retention.base.window; 0: none)"))
                .set(target.toSeconds());
    }

    /** Registers the test-restore meters of a cluster that has them scheduled (zeros until the first one). */
    public void registerRestoreTestMeters(String cluster) {
        backupGauges.computeIfAbsent(List.of(RESTORE_TEST_LAST_SUCCESS, cluster), k -> gauge(RESTORE_TEST_LAST_SUCCESS, cluster, "seconds",
                "when the last successful test restore finished (unix time)"));
        backupGauges.computeIfAbsent(List.of(RESTORE_TEST_LAST_FAILURE, cluster), k -> gauge(RESTORE_TEST_LAST_FAILURE, cluster, "seconds",
                "when the last failed test restore finished (unix time; 0: none failed)"));
        backupGauges.computeIfAbsent(List.of(RESTORE_TEST_DURATION, cluster), k -> gauge(RESTORE_TEST_DURATION, cluster, "seconds",
                "the measured recovery time of the last successful test restore: download, unpack, WAL replay, checks"));
        restoreTestFailures(cluster);
    }

    public void restoreTestSucceeded(String cluster, Duration duration) {
        registerRestoreTestMeters(cluster);
        backupGauges.get(List.of(RESTORE_TEST_LAST_SUCCESS, cluster)).set(clock.instant().getEpochSecond());
        backupGauges.get(List.of(RESTORE_TEST_DURATION, cluster)).set(Math.round(duration.toMillis() / 1000.0));
    }

    public void restoreTestFailed(String cluster) {
        registerRestoreTestMeters(cluster);
        restoreTestFailures(cluster).increment();
        backupGauges.get(List.of(RESTORE_TEST_LAST_FAILURE, cluster)).set(clock.instant().getEpochSecond());
    }

    /** The end of the oldest committed base backup: recovery_window_seconds counts from it. */
    public void earliestRestorable(String cluster, java.time.Instant earliest) {
        AtomicLong e = backupGauges.get(List.of(RECOVERY_WINDOW, cluster));
        if (e != null) e.set(earliest == null ? 0 : earliest.getEpochSecond());
    }

    private AtomicLong gauge(String name, String cluster, String unit, String description) {
        AtomicLong v = new AtomicLong();
        Gauge.builder(name, v, AtomicLong::get).tag("cluster", cluster).baseUnit(unit).description(description).register(registry);
        return v;
    }

    private Counter restoreTestFailures(String cluster) {
        return Counter.builder(RESTORE_TEST_FAILURES).tag("cluster", cluster).description("test restores that failed").register(registry);
    }

    /** Registers the retention counters of a cluster (zeros until its first prune). */
    public void registerRetentionMeters(String cluster) {
        retentionDeleted(cluster, 0, 0);
        retentionFailures(cluster);
    }

    public void retentionDeleted(String cluster, long objects, long bytes) {
        Counter.builder(RETENTION_DELETED).tag("cluster", cluster).description("repository objects retention deleted").register(registry)
                .increment(objects);
        Counter.builder(RETENTION_FREED).tag("cluster", cluster).baseUnit("bytes").description("stored bytes retention deleted")
                .register(registry).increment(bytes);
    }

    public void retentionFailed(String cluster) {
        retentionFailures(cluster).increment();
    }

    private Counter retentionFailures(String cluster) {
        return Counter.builder(RETENTION_FAILURES).tag("cluster", cluster).description("retention runs that failed").register(registry);
    }

    /** Registers repository_size_bytes of every kind of a cluster (zeros until the first measurement). */
    public void registerRepositorySize(String cluster) {
        for (String kind : io.pgwarden.repository.RepositorySize.KINDS) repositorySize(cluster, kind);
    }

    /**
     * A fresh measurement replaces the values. WAL pushed while it was listing may be counted twice or not at all;
     * the next measurement (after any job) corrects that.
     */
    public void repositorySize(String cluster, Map<String, Long> bytesByKind) {
        bytesByKind.forEach((kind, bytes) -> repositorySize(cluster, kind).set(bytes));
    }

    private AtomicLong repositorySize(String cluster, String kind) {
        return backupGauges.computeIfAbsent(List.of(REPOSITORY_SIZE, cluster, kind), k -> {
            AtomicLong v = new AtomicLong();
            Gauge.builder(REPOSITORY_SIZE, v, AtomicLong::get).tags("cluster", cluster, "kind", kind).baseUnit("bytes")
                    .description("stored bytes in the repository by kind: base, dump, globals, wal, records (metadata)").register(registry);
            return v;
        });
    }

    /** Registers the verify meters of a cluster (zeros until its first verify). */
    public void registerVerifyMeters(String cluster) {
        backupGauges.computeIfAbsent(List.of(VERIFY_LAST_SUCCESS, cluster), k -> gauge(VERIFY_LAST_SUCCESS, cluster, "seconds",
                "when the last verify that found every object intact and the WAL continuous finished (unix time)"));
        backupGauges.computeIfAbsent(List.of(VERIFY_LAST_FAILURE, cluster), k -> gauge(VERIFY_LAST_FAILURE, cluster, "seconds",
                "when the last verify that found a problem or could not finish ended (unix time; 0: none failed)"));
        verifyFailures(cluster);
    }

    public void verifySucceeded(String cluster) {
        registerVerifyMeters(cluster);
        backupGauges.get(List.of(VERIFY_LAST_SUCCESS, cluster)).set(clock.instant().getEpochSecond());
    }

    /** A verify that found a problem, or could not run to the end. */
    public void verifyFailed(String cluster) {
        registerVerifyMeters(cluster);
        verifyFailures(cluster).increment();
        backupGauges.get(List.of(VERIFY_LAST_FAILURE, cluster)).set(clock.instant().getEpochSecond());
    }

    private Counter verifyFailures(String cluster) {
        return Counter.builder(VERIFY_FAILURES).tag("cluster", cluster).description("verify runs that found a problem or could not finish")
                .register(registry);
    }

    /** Prometheus text exposition format 0.0.4. */
    public String scrape() {
        return registry.scrape();
    }

    @Override
    public void close() {
        gcMetrics.close();
        registry.close();
    }
}
