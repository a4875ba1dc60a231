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
import java.util.Optional;
import java.util.Properties;
import org.quartz.CronScheduleBuilder;
import org.quartz.CronTrigger;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.TriggerBuilder;
import org.quartz.impl.StdSchedulerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Quartz wiring: one job per cluster and kind, fired by its cron trigger; the job only asks {@link JobEngine}
 * for a run (which also keeps manual runs and scheduled ones apart). Quartz's in-memory store forgets missed
 * times across restarts, so the misfire check at start reads the last run from the repository instead.
 */
public final class BackupScheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackupScheduler.class);
    private static final String CLUSTER = "cluster";
    private static final String KIND = "kind";

    private final Scheduler scheduler;

    private BackupScheduler(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    public static BackupScheduler start(PgwardenConfig config, JobEngine jobs, Catalog catalog, Clock clock) {
        try {
            Scheduler scheduler = new StdSchedulerFactory(properties(config)).getScheduler();
            // Jobs are built here, not by reflection: each gets the JobEngine it calls.
            scheduler.setJobFactory((bundle, s) -> new ScheduledBackup(jobs));
            for (ClusterConfig cluster : config.clusters().values()) {
                for (JobKind kind : JobKind.values()) schedule(scheduler, cluster, kind, kind.schedule(cluster.schedules()), catalog, clock);
            }
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

    private static void schedule(Scheduler scheduler, ClusterConfig cluster, JobKind kind, Optional<CronSchedule> cron, Catalog catalog,
                                 Clock clock) throws SchedulerException {
        if (cron.isEmpty()) return;
        Misfire misfire = cluster.schedules().misfire();
        JobDetail job = JobBuilder.newJob(ScheduledBackup.class).withIdentity(cluster.name() + "." + kind.label(), "backup")
                .usingJobData(CLUSTER, cluster.name()).usingJobData(KIND, kind.name()).storeDurably().build();
        CronScheduleBuilder builder = CronScheduleBuilder.cronSchedule(cron.get().expression()).inTimeZone(
                java.util.TimeZone.getTimeZone(cron.get().zone()));
        builder = misfire == Misfire.RUN_ONCE ? builder.withMisfireHandlingInstructionFireAndProceed()
                : builder.withMisfireHandlingInstructionDoNothing();
        CronTrigger trigger = TriggerBuilder.newTrigger().withIdentity(job.getKey().getName(), "backup").withSchedule(builder).build();
        scheduler.scheduleJob(job, trigger);
        log.info("cluster '{}': {} scheduled at '{}' ({}), next at {}", cluster.name(), kind.noun(), cron.get().crontab(),
                cron.get().zone(), trigger.getFireTimeAfter(java.util.Date.from(clock.instant())).toInstant());
        missedWhileDown(cluster.name(), kind, cron.get(), misfire, catalog, clock).ifPresent(due -> {
            log.warn("cluster '{}': the {} due at {} was missed while pgwarden was down; running it now (misfire: run-once)",
                    cluster.name(), kind.noun(), due);
            try {
                scheduler.triggerJob(job.getKey(), new org.quartz.JobDataMap(java.util.Map.of("trigger", "misfire")));
            } catch (SchedulerException e) {
                log.error("cluster '{}': cannot run the missed {}: {}", cluster.name(), kind.noun(), e.getMessage());
            }
        });
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
}
