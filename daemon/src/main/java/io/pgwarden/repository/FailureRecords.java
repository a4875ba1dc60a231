package io.pgwarden.repository;

import io.pgwarden.storage.StorageDriver;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a failed run's record. A run often fails because the repository did (S3 down, disk full), and then its
 * record cannot be written at once either: it is retried in the background until the repository takes it (or
 * {@link #ATTEMPTS} tries have passed), so the run itself still ends promptly and the record is not lost.
 */
public final class FailureRecords {
    private static final Logger log = LoggerFactory.getLogger(FailureRecords.class);
    static final int ATTEMPTS = 60;
    static final Duration PAUSE = Duration.ofSeconds(5);

    private FailureRecords() {
    }

    /** @param what names the run in the log, e.g. "cluster 'main': base backup 20261202T...Z-ab12" */
    public static void write(StorageDriver storage, String key, FailureRecord record, String what) {
        try {
            RepositoryJson.write(storage, key, record);
        } catch (RuntimeException first) {
            log.warn("{}: cannot record the failure yet, retrying every {}s: {}", what, PAUSE.toSeconds(), first.getMessage());
            Thread.ofVirtual().name("failure-record").start(() -> retry(storage, key, record, what));
        }
    }

    private static void retry(StorageDriver storage, String key, FailureRecord record, String what) {
        for (int attempt = 2; attempt <= ATTEMPTS; attempt++) {
            try {
                Thread.sleep(PAUSE);
                RepositoryJson.write(storage, key, record);
                log.info("{}: failure recorded as '{}' (attempt {})", what, key, attempt);
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                if (attempt == ATTEMPTS) log.error("{}: the failure could not be recorded as '{}': {}", what, key, e.getMessage());
            }
        }
    }
}
