package io.pgwarden.schedule;

import io.pgwarden.jobs.JobEngine;
import io.pgwarden.jobs.JobKind;
import io.pgwarden.jobs.JobRequest;
import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.CronSchedule;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.config.SchedulesConfig.Misfire;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.Catalog;
import java.time.Clock;
import java.time.Instant;
import java.util.HashSet;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import javax.sql.DataSource;
import org.quartz.CronScheduleBuilder;
import org.quartz.CronTrigger;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.JobKey;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.TriggerBuilder;
import org.quartz.impl.StdSchedulerFactory;
import org.quartz.impl.matchers.GroupMatcher;
import org.quartz.utils.DBConnectionManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Quartz wiring: one job per cluster and kind, fired by its cron trigger; the job only asks {@link JobEngine}
 * for a run (which also keeps manual runs and scheduled ones apart). Quartz's in-memory store forgets missed
 * times across restarts, so the misfire check at start reads the last run from the repository instead. On a shared
 * store (Quartz's clustered JDBC job store) the triggers outlive every daemon: Quartz fires each time on exactly one
 * daemon, handles times missed while all were down, and frees the triggers of a daemon that died.
 */
public final class BackupScheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackupScheduler.class);
    private static final String CLUSTER = "cluster";
    private static final String KIND = "kind";
    private static final String GROUP = "backup";
    /** The name under which Quartz finds the shared store's connections. */
    private static final String DATA_SOURCE = "pgwarden";

    private final Scheduler scheduler;

    private BackupScheduler(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    /** @param store the shared store's database; empty: Quartz's in-memory store */
    public static BackupScheduler start(PgwardenConfig config, JobEngine jobs, Catalog catalog, Clock clock, Optional<DataSource> store) {
        try {
            store.ifPresent(ds -> DBConnectionManager.getInstance().addConnectionProvider(DATA_SOURCE, new StoreConnections(ds)));
            Scheduler scheduler = new StdSchedulerFactory(store.isPresent() ? sharedProperties(config) : properties(config)).getScheduler();
            // Jobs are built here, not by reflection: each gets the JobEngine it calls.
            scheduler.setJobFactory((bundle, s) -> new ScheduledBackup(jobs));
            Set<JobKey> scheduled = new HashSet<>();
            for (ClusterConfig cluster : config.clusters().values()) {
                for (JobKind kind : JobKind.values()) {
                    Optional<CronSchedule> cron = kind.schedule(cluster.schedules());
                    if (cron.isEmpty()) continue;
                    scheduled.add(store.isPresent() ? scheduleShared(scheduler, cluster, kind, cron.get(), clock)
                            : schedule(scheduler, cluster, kind, cron.get(), catalog, clock));
                }
            }
            if (store.isPresent()) unscheduleOthers(scheduler, scheduled);
            scheduler.start();
            return new BackupScheduler(scheduler);
        } catch (SchedulerException e) {
            throw new IllegalStateException("cannot start the scheduler: " + e.getMessage(), e);
        }
    }

    private static Properties properties(PgwardenConfig config) {
        Properties p = new Properties();
        p.setProperty(StdSchedulerFactory.PROP_SCHED_INSTANCE_NAME, "pgwarden-" + config.server().instance());
        p.setProperty("org.quartz.threadPool.threadCount", Integer.toString(Math.max(2, 2 * config.clusters().size())));
        p.setProperty("org.quartz.jobStore.class", "org.quartz.simpl.RAMJobStore");
        // A trigger late by more than this (every worker busy) counts as misfired and follows the misfire policy.
        p.setProperty("org.quartz.jobStore.misfireThreshold", "60000");
        return p;
    }

    /**
     * Quartz on its clustered JDBC store: one scheduler name for all daemons (it names the cluster of schedulers),
     * each daemon its own instance id; job data as strings, so the tables stay readable.
     */
    private static Properties sharedProperties(PgwardenConfig config) {
        Properties p = properties(config);
        p.setProperty(StdSchedulerFactory.PROP_SCHED_INSTANCE_NAME, "pgwarden");
        p.setProperty(StdSchedulerFactory.PROP_SCHED_INSTANCE_ID, config.server().instance());
        p.setProperty("org.quartz.jobStore.class", "org.quartz.impl.jdbcjobstore.JobStoreTX");
        p.setProperty("org.quartz.jobStore.driverDelegateClass", "org.quartz.impl.jdbcjobstore.PostgreSQLDelegate");
        p.setProperty("org.quartz.jobStore.dataSource", DATA_SOURCE);
        p.setProperty("org.quartz.jobStore.isClustered", "true");
        // A dead daemon's triggers are freed by another after about two check-in intervals.
        p.setProperty("org.quartz.jobStore.clusterCheckinInterval", "5000");
        p.setProperty("org.quartz.jobStore.useProperties", "true");
        p.setProperty("org.quartz.jobStore.acquireTriggersWithinLock", "true");
        return p;
    }

    private static JobDetail job(ClusterConfig cluster, JobKind kind) {
        return JobBuilder.newJob(ScheduledBackup.class).withIdentity(cluster.name() + "." + kind.label(), GROUP)
                .usingJobData(CLUSTER, cluster.name()).usingJobData(KIND, kind.name()).storeDurably().build();
    }

    private static CronTrigger trigger(JobDetail job, CronSchedule cron, Misfire misfire) {
        CronScheduleBuilder builder = CronScheduleBuilder.cronSchedule(cron.expression()).inTimeZone(java.util.TimeZone.getTimeZone(cron.zone()));
        builder = misfire == Misfire.RUN_ONCE ? builder.withMisfireHandlingInstructionFireAndProceed()
                : builder.withMisfireHandlingInstructionDoNothing();
        return TriggerBuilder.newTrigger().withIdentity(job.getKey().getName(), GROUP).withSchedule(builder).build();
    }

    /**
     * On the shared store: a trigger another daemon (or an earlier life of this one) stored with the same schedule is
     * kept, so its next time and the times missed while every daemon was down survive; a changed one is replaced.
     */
    private static JobKey scheduleShared(Scheduler scheduler, ClusterConfig cluster, JobKind kind, CronSchedule cron, Clock clock)
            throws SchedulerException {
        JobDetail job = job(cluster, kind);
        CronTrigger trigger = trigger(job, cron, cluster.schedules().misfire());
        if (scheduler.getTrigger(trigger.getKey()) instanceof CronTrigger stored && stored.getCronExpression().equals(trigger.getCronExpression())
                && stored.getTimeZone().getID().equals(trigger.getTimeZone().getID())
                && stored.getMisfireInstruction() == trigger.getMisfireInstruction()) {
            log.info("cluster '{}': {} scheduled at '{}' ({}) on the shared store, next at {}", cluster.name(), kind.noun(), cron.crontab(),
                    cron.zone(), stored.getNextFireTime() == null ? "never" : stored.getNextFireTime().toInstant());
            return job.getKey();
        }
        scheduler.scheduleJob(job, Set.of(trigger), true);
        log.info("cluster '{}': {} scheduled at '{}' ({}) on the shared store, next at {}", cluster.name(), kind.noun(), cron.crontab(),
                cron.zone(), trigger.getFireTimeAfter(java.util.Date.from(clock.instant())).toInstant());
        return job.getKey();
    }

    /** Jobs on the shared store this configuration does not schedule (a schedule or a cluster removed): deleted. */
    private static void unscheduleOthers(Scheduler scheduler, Set<JobKey> scheduled) throws SchedulerException {
        for (JobKey key : scheduler.getJobKeys(GroupMatcher.jobGroupEquals(GROUP))) {
            if (scheduled.contains(key)) continue;
            log.warn("schedule '{}' is on the shared store but not in this configuration: deleted (daemons sharing a store need the"
                    + " same schedules)", key.getName());
            scheduler.deleteJob(key);
        }
    }

    private static JobKey schedule(Scheduler scheduler, ClusterConfig cluster, JobKind kind, CronSchedule cron, Catalog catalog,
                                   Clock clock) throws SchedulerException {
        Misfire misfire = cluster.schedules().misfire();
        JobDetail job = job(cluster, kind);
        CronTrigger trigger = trigger(job, cron, misfire);
        scheduler.scheduleJob(job, trigger);
        log.info("cluster '{}': {} scheduled at '{}' ({}), next at {}", cluster.name(), kind.noun(), cron.crontab(),
                cron.zone(), trigger.getFireTimeAfter(java.util.Date.from(clock.instant())).toInstant());
        missedWhileDown(cluster.name(), kind, cron, misfire, catalog, clock).ifPresent(due -> {
            log.warn("cluster '{}': the {} due at {} was missed while pgwarden was down; running it now (misfire: run-once)",
                    cluster.name(), kind.noun(), due);
            try {
                scheduler.triggerJob(job.getKey(), new org.quartz.JobDataMap(java.util.Map.of("trigger", "misfire")));
            } catch (SchedulerException e) {
                log.error("cluster '{}': cannot run the missed {}: {}", cluster.name(), kind.noun(), e.getMessage());
            }
        });
        return job.getKey();
    }

    /** The latest scheduled time that passed after the last recorded run (success or failure), if the policy runs it. */
    static Optional<Instant> missedWhileDown(String cluster, JobKind kind, CronSchedule cron, Misfire misfire, Catalog catalog, Clock clock) {
        // A missed prune loses nothing (the next one does its work); verify runs leave no record to compare with and
        // re-read the whole repository, so a missed one waits for its next time rather than loading a restarting daemon.
        if (kind == JobKind.RETENTION || kind == JobKind.VERIFY) return Optional.empty();
        Optional<Instant> last;
        try {
            last = catalog.lastRunStart(cluster, kind.label());
        } catch (PgwardenException e) {
            log.warn("cluster '{}': cannot read the last {} from the repository, so a run missed while down is not detected: {}",
                    cluster, kind.noun(), e.getMessage());
            return Optional.empty();
        }
        if (last.isEmpty()) return Optional.empty(); // never ran: nothing was missed, the first run comes at its time
        // The latest scheduled time that passed since the last run (bounded walk: a minutely schedule over years).
        Optional<Instant> due = Optional.empty();
        Optional<Instant> next = cron.nextAfter(last.get());
        for (int i = 0; i < 1_000_000 && next.isPresent() && !next.get().isAfter(clock.instant()); i++) {
            due = next;
            next = cron.nextAfter(next.get());
        }
        if (due.isPresent() && misfire == Misfire.SKIP) {
            log.warn("cluster '{}': the {} due at {} was missed while pgwarden was down; skipped (misfire: skip)",
                    cluster, kind.noun(), due.get());
            return Optional.empty();
        }
        return due;
    }

    @Override
    public void close() {
        try {
            // Running backups are not waited for here: they end with the process and leave no manifest.
            scheduler.shutdown(false);
        } catch (SchedulerException e) {
            log.warn("scheduler did not stop cleanly: {}", e.getMessage());
        }
    }

    /** The Quartz job: one call into JobEngine; never throws (Quartz would only log it). */
    @DisallowConcurrentExecution
    static final class ScheduledBackup implements Job {
        private final JobEngine jobs;

        ScheduledBackup(JobEngine jobs) {
            this.jobs = jobs;
        }

        @Override
        public void execute(JobExecutionContext context) {
            String cluster = context.getMergedJobDataMap().getString(CLUSTER);
            JobKind kind = JobKind.valueOf(context.getMergedJobDataMap().getString(KIND));
            String trigger = context.getMergedJobDataMap().containsKey("trigger") ? context.getMergedJobDataMap().getString("trigger") : "schedule";
            try {
                jobs.run(new JobRequest(cluster, kind, Optional.empty(), trigger));
            } catch (RuntimeException e) {
                // BUSY (a manual run of this kind is in progress) and anything unforeseen: logged and counted, never lost.
                log.warn("cluster '{}': scheduled {} not run: {}", cluster, kind.noun(), e.getMessage());
            }
        }
    }

    /** Quartz's connections to the shared store: a new one per use, from the store's data source. */
    private record StoreConnections(DataSource store) implements org.quartz.utils.ConnectionProvider {
        @Override
        public java.sql.Connection getConnection() throws java.sql.SQLException {
            return store.getConnection();
        }

        @Override
        public void shutdown() {
        }

        @Override
        public void initialize() {
        }
    }
}
