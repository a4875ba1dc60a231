package io.pgwarden.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.jobs.JobKind;
import io.pgwarden.config.CronSchedule;
import io.pgwarden.config.SchedulesConfig.Misfire;
import io.pgwarden.repository.Catalog;
import io.pgwarden.storage.FilesystemStorage;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The start-up misfire decision, read from run ids in a real (filesystem) repository with a fixed clock. */
class MissedWhileDownTest {
    private static final CronSchedule DAILY_AT_2 = CronSchedule.parse("0 2 * * *", ZoneOffset.UTC);
    private static final Clock NOW = Clock.fixed(Instant.parse("2026-11-25T09:00:00Z"), ZoneOffset.UTC);

    @TempDir
    Path dir;
    FilesystemStorage storage;
    Catalog catalog;

    @BeforeEach
    void open() {
        storage = new FilesystemStorage(dir);
        catalog = new Catalog(storage);
    }

    @AfterEach
    void close() {
        storage.close();
    }

    private void put(String key) {
        storage.put(key, new ByteArrayInputStream(new byte[] {'{', '}'}), Map.of());
    }

    private java.util.Optional<Instant> missed(JobKind kind, Misfire misfire) {
        return BackupScheduler.missedWhileDown("main", kind, DAILY_AT_2, misfire, catalog, NOW);
    }

    @Test
    void aClusterNeverBackedUpMissedNothing() {
        assertThat(missed(JobKind.BASE, Misfire.RUN_ONCE)).isEmpty();
    }

    @Test
    void aRunAfterTheLastDueTimeMeansNothingWasMissed() {
        put("main/base/20261125T020000Z-1a2b/manifest.json");
        assertThat(missed(JobKind.BASE, Misfire.RUN_ONCE)).isEmpty();
    }

    @Test
    void theDueTimeAfterTheLastRunWasMissed() {
        put("main/base/20261124T020000Z-1a2b/manifest.json");
        assertThat(missed(JobKind.BASE, Misfire.RUN_ONCE)).hasValue(Instant.parse("2026-11-25T02:00:00Z"));
        assertThat(missed(JobKind.BASE, Misfire.SKIP)).isEmpty();
    }

    @Test
    void aLongDowntimeReportsTheLatestMissedTime() {
        put("main/base/20240101T020000Z-1a2b/manifest.json");
        assertThat(missed(JobKind.BASE, Misfire.RUN_ONCE)).hasValue(Instant.parse("2026-11-25T02:00:00Z"));
    }

    @Test
    void aFailedRunCountsAsARun() {
        put("main/base/20261120T020000Z-1a2b/manifest.json");
        put("main/failures/base/20261125T020000Z-9f9f.json");
        assertThat(missed(JobKind.BASE, Misfire.RUN_ONCE)).isEmpty();
    }

    @Test
    void dumpRunsAreKnownByTheirGlobalsAndFailureRecords() {
        put("main/globals/20261124T020000Z-1a2b/manifest.json");
        put("main/base/20261125T020000Z-1a2b/manifest.json");
        assertThat(missed(JobKind.DUMP, Misfire.RUN_ONCE)).hasValue(Instant.parse("2026-11-25T02:00:00Z"));
        put("main/failures/dump/20261125T020001Z-77aa-appdb.json");
        assertThat(missed(JobKind.DUMP, Misfire.RUN_ONCE)).isEmpty();
    }
}
