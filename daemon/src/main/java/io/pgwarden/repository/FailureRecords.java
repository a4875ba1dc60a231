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
            retryInBackground("failure-record", attempt -> {
                try {
                    RepositoryJson.write(storage, key, record);
                    log.info("{}: failure recorded as '{}' (attempt {})", what, key, attempt);
                    return true;
                } catch (RuntimeException e) {
                    if (attempt == ATTEMPTS) log.error("{}: the failure could not be recorded as '{}': {}", what, key, e.getMessage());
                    return false;
                }
            });
        }
    }

    /**
     * Deletes what a failed run stored (an object completed before the run failed): at once, else in the background
     * like a record, so that an outage does not leave it until garbage collection.
     */
    public static void deleteLeftovers(StorageDriver storage, java.util.List<String> keys, String what) {
        java.util.List<String> left = new java.util.ArrayList<>(keys);
        left.removeIf(key -> deleted(storage, key, what, true));
        if (left.isEmpty()) return;
        retryInBackground("failure-leftovers", attempt -> {
            left.removeIf(key -> deleted(storage, key, what, attempt == ATTEMPTS));
            return left.isEmpty();
        });
    }

    private static boolean deleted(StorageDriver storage, String key, String what, boolean logFailure) {
        try {
            storage.delete(key);
            return true;
        } catch (RuntimeException e) {
            if (logFailure) log.warn("{}: cannot delete '{}' yet (retried in the background; garbage collection would): {}", what, key, e.getMessage());
            return false;
        }
    }

    /** Attempts 2 to {@link #ATTEMPTS}, {@link #PAUSE} apart, on a thread of their own, until one returns true. */
    private static void retryInBackground(String name, java.util.function.IntPredicate attempt) {
        Thread.ofVirtual().name(name).start(() -> {
            for (int n = 2; n <= ATTEMPTS; n++) {
                try {
                    Thread.sleep(PAUSE);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                if (attempt.test(n)) return;
            }
        });
    }
}
