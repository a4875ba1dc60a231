package io.pgwarden.jobs;

import com.fasterxml.jackson.annotation.JsonValue;
import io.pgwarden.config.CronSchedule;
import io.pgwarden.config.SchedulesConfig;
import io.pgwarden.error.PgwardenException;
import java.util.Optional;

/** The kinds of job the engine runs, each with its name in the API, metrics and the repository. */
public enum JobKind {
    BASE("base", "base backup"),
    /** A base backup of only what changed since the newest one (PostgreSQL 17+, pg_basebackup --incremental). */
    INCREMENTAL("incremental", "incremental backup"),
    DUMP("dump", "dump backup"),
    RESTORE_TEST("restore-test", "test restore"),
    RETENTION("retention", "retention run"),
    VERIFY("verify", "verify run");

    private final String label;
    private final String noun;

    JobKind(String label, String noun) {
        this.label = label;
        this.noun = noun;
    }

    /** As the API, metrics and failure records name it: base, incremental, dump, restore-test, retention, verify. */
    @JsonValue
    public String label() {
        return label;
    }

    /** As a sentence names a run of it: "a base backup", "a verify run". */
    public String noun() {
        return noun;
    }

    /** The kinds a backup request may name (test restores have their own endpoint). */
    public static JobKind parseBackup(String text) {
        return switch (text) {
            case "base" -> BASE;
            case "incremental" -> INCREMENTAL;
            case "dump" -> DUMP;
            default -> throw PgwardenException.badRequest("'" + text + "' is not a backup kind (base, incremental or dump)");
        };
    }

    /** Its crontab in a cluster's schedules, if it has one. */
    public Optional<CronSchedule> schedule(SchedulesConfig schedules) {
        return switch (this) {
            case BASE -> schedules.base();
            case INCREMENTAL -> schedules.incremental();
            case DUMP -> schedules.dump();
            case RESTORE_TEST -> schedules.restoreTest();
            case RETENTION -> schedules.retention();
            case VERIFY -> schedules.verify();
        };
    }
}
