package io.pgwarden.daemon;

import io.pgwarden.archive.WalArchiver;
import io.pgwarden.archive.WalFetcher;
import io.pgwarden.archive.WalReadAhead;
import io.pgwarden.archive.WalSpool;
import io.pgwarden.archive.WalSpools;
import io.pgwarden.jobs.JobEngine;
import io.pgwarden.jobs.LocalRunBook;
import io.pgwarden.jobs.RunBook;
import io.pgwarden.jobs.SharedRunBook;
import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.metrics.Metrics;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.restore.RestoreJobs;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.runner.ToolRunners;
import io.pgwarden.schedule.BackupScheduler;
import io.pgwarden.schedule.SchedulerDatabase;
import io.pgwarden.server.HttpServer;
import io.pgwarden.server.ReadinessProbe;
import io.pgwarden.archive.RequestSlots;
import java.time.Duration;
import io.pgwarden.server.Routes;
import io.pgwarden.server.WalEndpoint;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.ChunkPool;
import io.pgwarden.storage.StorageFactory;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: builds storage → repository → services → runners → HTTP server → scheduler, and stops
 * them in reverse. Stopping lets in-flight WAL pushes finish (Jetty graceful stop) before the repository closes.
 */
public final class Daemon implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Daemon.class);

    private final StorageDriver storage;
    private final Metrics metrics;
    private final Map<String, ToolRunner> runners;
    private final JobEngine jobs;
    private final RunBook book;
    private final HttpServer http;
    private final BackupScheduler scheduler;
    private final ClusterUpProbe probe;
    private final ReadinessProbe readiness;
    private final WalReadAhead readAhead;
    private final WalSpools spools;

    private Daemon(StorageDriver storage, Metrics metrics, Map<String, ToolRunner> runners, JobEngine jobs, RunBook book, HttpServer http,
                   BackupScheduler scheduler, ClusterUpProbe probe, ReadinessProbe readiness, WalReadAhead readAhead, WalSpools spools) {
        this.book = book;
        this.spools = spools;
        this.readAhead = readAhead;
        this.probe = probe;
        this.readiness = readiness;
        this.storage = storage;
        this.metrics = metrics;
        this.runners = runners;
        this.jobs = jobs;
        this.http = http;
        this.scheduler = scheduler;
    }

    /**
     * Upload memory for the whole daemon; it must leave most of the heap to everything else, or a busy moment ends in
     * OutOfMemoryError (the launcher exits on it) instead of in uploads that wait.
     */
    private static ChunkPool uploadBuffers(PgwardenConfig config) {
        ChunkPool buffers = ChunkPool.forRepository(config.repository());
        long heap = Runtime.getRuntime().maxMemory();
        if (buffers.capacityBytes() > heap / 2) {
            throw new PgwardenException(ErrorCode.CONFIG, "uploads need " + (buffers.capacityBytes() >> 20) + " MiB of memory (two parts of"
                    + " repository.s3.partSize, at least 32 MiB), more than half of the JVM's heap (" + (heap >> 20) + " MiB);"
                    + " HINT: raise the heap (PGWARDEN_JAVA_OPTS=-Xmx...) or lower partSize");
        }
        return buffers;
    }

    public static Daemon start(PgwardenConfig config, Clock clock) throws Exception {
        removeSpoolLeftovers(config);
        Metrics metrics = new Metrics(clock);
        ChunkPool buffers = uploadBuffers(config);
        metrics.registerUploadBuffers(buffers::bytesInUse, buffers.capacityBytes());
        StorageDriver driver = StorageFactory.create(config.repository(), buffers,
                new io.pgwarden.storage.StagingDir(config.server().spoolDir(), config.server().instance()));
        StorageDriver storage = new io.pgwarden.storage.CountingStorage(driver, metrics::storageOperation);
        try {
            storage.prepare();
        } catch (RuntimeException e) {
            storage.close();
            throw e;
        }
        config.clusters().values().forEach(c -> registerMeters(metrics, c));
        WalRepository wal = new WalRepository(storage, config.repository());
        checkEncryption(storage, wal);
        wal.encoding().warmUpInBackground();
        ClusterInfoStore clusterInfo = new ClusterInfoStore(storage);
        RequestSlots slots = new RequestSlots(config.server().maxConcurrentPushes(), config.server().pushesPerCluster(config.clusters().size()),
                config.clusters().keySet(), Duration.ofSeconds(30));
        WalSpools spools = startSpools(config, wal, clock, metrics, storage);
        WalArchiver archiver = new WalArchiver(config, clusterInfo, wal, clock, slots, spools.accepting(), buffers);
        Map<String, ToolRunner> runners = runners(config);
        Optional<DataSource> store;
        RunBook book;
        try {
            store = config.scheduler().jdbc().map(jdbc -> SchedulerDatabase.open(jdbc, config.server().instance()));
            book = store.isPresent() ? SharedRunBook.open(store.get(), config.scheduler().jdbc().orElseThrow(), config.server().instance(), clock) : new LocalRunBook();
        } catch (RuntimeException e) {
            spools.close();
            runners.values().forEach(ToolRunner::close);
            storage.close();
            throw e;
        }
        JobEngine jobs = JobEngine.create(config, storage, wal, clusterInfo, runners::get, metrics, clock, book);
        // Two downloads ahead at once: on two cores, more would only compete with the one being served.
        WalReadAhead readAhead = new WalReadAhead(wal, clusterInfo, config.server().spoolDir().resolve("read-ahead-" + config.server().instance()),
                config.server().walReadAhead(), 2);
        WalEndpoint endpoint = new WalEndpoint(config, archiver, new WalFetcher(config, wal, spools.all()), readAhead, metrics, slots);
        ReadinessProbe readiness = new ReadinessProbe(storage).start();
        HttpServer http = new HttpServer(config.server(), new Routes(endpoint, config, jobs, new RestoreJobs(config, storage, clock, runners::get), metrics, readiness));
        try {
            http.start();
        } catch (Exception e) {
            book.close();
            readiness.close();
            readAhead.close();
            spools.close();
            runners.values().forEach(ToolRunner::close);
            storage.close();
            throw new PgwardenException(ErrorCode.CONFIG,
                    "cannot listen on " + config.server().host() + ":" + config.server().port() + ": " + e.getMessage(), e);
        }
        checkRepository(storage);
        config.clusters().keySet().forEach(jobs.gauges()::updateRecoveryWindow);
        // Listing a large repository takes a while; WAL pushes are already being answered meanwhile.
        Thread.ofVirtual().name("repository-size").start(() -> config.clusters().keySet().forEach(jobs.gauges()::updateRepositorySize));
        BackupScheduler scheduler = BackupScheduler.start(config, jobs, new Catalog(storage), clock, store);
        log.info("pgwarden listening on {}://{}:{}, repository {}, clusters {}", http.scheme(), http.host(), http.port(),
                storage.describe(), config.clusters().keySet());
        return new Daemon(storage, metrics, runners, jobs, book, http, scheduler, new ClusterUpProbe(config, metrics), readiness, readAhead,
                spools);
    }

    /** Each cluster's WAL spool, uploading in the background, and its backlog meters (zeros for a cluster without one). */
    private static WalSpools startSpools(PgwardenConfig config, WalRepository wal, Clock clock, Metrics metrics, StorageDriver storage) {
        WalSpools spools;
        try {
            spools = WalSpools.start(config, wal, clock, metrics::walSpoolUpload);
        } catch (RuntimeException e) {
            storage.close();
            throw e;
        }
        for (String cluster : config.clusters().keySet()) {
            WalSpool spool = spools.all().get(cluster);
            if (spool == null) {
                metrics.registerWalSpool(cluster, () -> 0, () -> 0, () -> 0);
            } else {
                metrics.registerWalSpool(cluster, spool::bytes, spool::files, () -> spool.oldest()
                        .map(t -> Math.max(0, Duration.between(t, clock.instant()).toSeconds())).orElse(0L));
            }
        }
        return spools;
    }

    /** Spool files of this instance's earlier run, killed mid-push (their pushes were never acknowledged). */
    private static void removeSpoolLeftovers(PgwardenConfig config) {
        try {
            int removed = io.pgwarden.io.SpillBuffer.removeLeftovers(config.server().spoolDir(), config.server().instance());
            if (removed > 0) log.info("removed {} spool files left in '{}' by an earlier run", removed, config.server().spoolDir());
        } catch (java.io.IOException e) {
            log.warn("cannot clean the spool directory '{}': {}", config.server().spoolDir(), e.toString());
        }
    }

    private static void registerMeters(Metrics metrics, ClusterConfig cluster) {
        metrics.registerCluster(cluster.name());
        cluster.schedules().base().ifPresent(s -> metrics.registerBackupKind(cluster.name(), "base"));
        cluster.schedules().dump().ifPresent(s -> metrics.registerBackupKind(cluster.name(), "dump"));
        metrics.registerRecoveryWindow(cluster.name(), cluster.retention().window().orElse(java.time.Duration.ZERO));
        cluster.schedules().restoreTest().ifPresent(s -> metrics.registerRestoreTestMeters(cluster.name()));
        metrics.registerRetentionMeters(cluster.name());
        metrics.registerVerifyMeters(cluster.name());
        metrics.registerRepositorySize(cluster.name());
    }

    /** One runner per cluster; sidecars a crash of this instance left behind are removed before anything new starts. */
    private static Map<String, ToolRunner> runners(PgwardenConfig config) {
        Map<String, ToolRunner> runners = new LinkedHashMap<>();
        for (ClusterConfig cluster : config.clusters().values()) {
            ToolRunner runner = ToolRunners.create(cluster.runner(), config.server().instance());
            runners.put(cluster.name(), runner);
            try {
                int removed = runner.removeOrphans();
                if (removed > 0) log.warn("removed {} orphaned sidecar(s) of instance '{}'", removed, config.server().instance());
            } catch (RuntimeException e) {
                // Not fatal: WAL archiving does not need Docker; backups will report the same problem when they run.
                log.warn("cluster '{}': cannot look for orphaned sidecars: {}", cluster.name(), e.getMessage());
            }
        }
        return runners;
    }

    /** An unreachable repository is not fatal at start (it may come back); /ready says so meanwhile. */
    /** A keyset that does not fit the repository (or none for an encrypted one) refuses the start; an outage does not. */
    private static void checkEncryption(StorageDriver storage, WalRepository wal) {
        try {
            wal.ensureMarkerChecked();
        } catch (PgwardenException e) {
            if (e.code() != ErrorCode.REPOSITORY_UNAVAILABLE && e.code() != ErrorCode.STORAGE) {
                storage.close();
                throw e;
            }
            log.warn("cannot check the encryption of {} yet (it is checked before the first write): {}", storage.describe(), e.getMessage());
        }
    }

    private static void checkRepository(StorageDriver storage) {
        try {
            storage.checkReachable();
        } catch (RuntimeException e) {
            log.warn("repository {} is not reachable yet; WAL pushes answer 503 until it is: {}", storage.describe(), e.getMessage());
        }
    }

    public int port() {
        return http.port();
    }

    public Metrics metrics() {
        return metrics;
    }

    public JobEngine jobs() {
        return jobs;
    }

    /** The repository as this daemon reads it (its own storage: no second connection to read what it wrote). */
    public Catalog catalog() {
        return new Catalog(storage);
    }

    @Override
    public void close() {
        log.info("pgwarden stopping: finishing in-flight requests");
        probe.close();
        readiness.close();
        scheduler.close();
        try {
            http.close();
        } catch (RuntimeException e) {
            log.warn("{}", e.getMessage());
        }
        // Closing the runners stops their sidecars: a backup cut short leaves no manifest, so it never counts.
        jobs.running().forEach(r -> log.warn("cluster '{}': {} {} is cut short by the stop; it leaves no manifest", r.cluster(),
                r.kind().noun(), r.id()));
        runners.values().forEach(ToolRunner::close);
        if (!jobs.awaitIdle(java.time.Duration.ofSeconds(30))) log.warn("backup runs still busy after 30s; stopping anyway");
        book.close();
        readAhead.close();
        spools.close();
        metrics.close();
        storage.close();
        log.info("pgwarden stopped");
    }
}
