package io.pgwarden.jobs;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Where runs claim their slot (one run per cluster and kind) and keep their state for status queries: this process's
 * memory ({@link LocalRunBook}), or a database that every daemon sharing the schedules reads ({@link SharedRunBook}).
 */
public interface RunBook extends AutoCloseable {
    /**
     * Records {@code run} as running in {@code slot}; throws BUSY naming the run that holds the slot.
     * @return the run as recorded (its id may differ when another daemon took the same id first)
     */
    JobRun claim(String slot, JobRun run);

    /** Records how a run ended and frees its slot. */
    void finish(String slot, JobRun done);

    Optional<JobRun> find(String cluster, String id);

    /** The ids of every run in progress, on every daemon that shares this book (retention keeps what they write). */
    Set<String> activeRunIds();

    /** This process's runs in progress. */
    List<JobRun> ownRunning();

    /**
     * Starts looking for runs whose daemon died before they ended; each is recorded as failed and handed to
     * {@code interrupted} exactly once across the daemons sharing the book. A book of one process has none.
     */
    default void watchForInterrupted(Consumer<JobRun> interrupted) {
    }

    @Override
    default void close() {
    }
}
