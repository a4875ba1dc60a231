package io.pgwarden.archive;

import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.repository.WalRepository.StoredWal;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Uploads a cluster's spooled WAL to the repository: a few at once, each worker taking the first waiting file in WAL
 * order, so the repository's archive grows from its start without lasting gaps. An upload is the same conditional
 * create a synchronous push makes; a failed one is retried, backing off to 30 s while the repository is away.
 */
public final class SpoolUploader implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SpoolUploader.class);
    private static final Duration FIRST_RETRY = Duration.ofMillis(500);
    private static final Duration MAX_RETRY = Duration.ofSeconds(30);

    /** What happened to each upload, for metrics. */
    @FunctionalInterface
    public interface Listener {
        /** @param outcome uploaded, retried (the repository failed) or conflict (different content archived; kept aside) */
        void outcome(String cluster, String outcome);
    }

    private final WalSpool spool;
    private final WalRepository wal;
    private final Listener listener;
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean closed;

    public SpoolUploader(WalSpool spool, WalRepository wal, Listener listener) {
        this.spool = spool;
        this.wal = wal;
        this.listener = listener;
    }

    public SpoolUploader start(int uploads) {
        for (int i = 0; i < uploads; i++) {
            workers.add(Thread.ofVirtual().name("wal-upload-" + spool.cluster() + "-" + i).start(this::work));
        }
        return this;
    }

    private void work() {
        Duration backoff = FIRST_RETRY;
        while (!closed) {
            WalSpool.Spooled next;
            try {
                next = spool.claim();
            } catch (InterruptedException e) {
                return;
            }
            try {
                upload(next);
                backoff = FIRST_RETRY;
            } catch (RuntimeException | IOException e) {
                spool.release(next);
                if (closed) return;
                listener.outcome(spool.cluster(), "retried");
                log.warn("cluster '{}': upload of spooled WAL file {} to '{}' failed, retrying in {} ms: {}", spool.cluster(),
                        next.name().name(), next.key(), backoff.toMillis(), e.getMessage());
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException interrupted) {
                    return;
                }
                backoff = backoff.multipliedBy(2).compareTo(MAX_RETRY) > 0 ? MAX_RETRY : backoff.multipliedBy(2);
            }
        }
    }

    private void upload(WalSpool.Spooled spooled) throws IOException {
        boolean created = wal.createEncoded(spooled.key(), spool.content(spooled), spooled.metadata());
        try (NamedLocks.Held held = WalArchiver.PUSHES.lock(spool.cluster() + "/" + spooled.name().name())) {
            if (!created) {
                Optional<StoredWal> existing = wal.find(spool.cluster(), spooled.name());
                if (existing.isEmpty()) {
                    throw PgwardenException.unavailable("'" + spooled.key() + "' was archived by another writer and is gone again", null);
                }
                StoredWal stored = existing.get();
                if (!stored.sha256().equals(spooled.stored().sha256()) || stored.rawSize() != spooled.stored().rawSize()) {
                    java.nio.file.Path aside = spool.conflicted(spooled);
                    listener.outcome(spool.cluster(), "conflict");
                    log.error("cluster '{}': WAL file {} is already archived as '{}' with different content (stored sha256 {}, spooled {});"
                                    + " the stored file is kept and the spooled one moved to '{}'", spool.cluster(), spooled.name().name(),
                            stored.key(), stored.sha256(), spooled.stored().sha256(), aside);
                    return;
                }
            }
            spool.uploaded(spooled);
        }
        listener.outcome(spool.cluster(), "uploaded");
    }

    @Override
    public void close() {
        closed = true;
        workers.forEach(Thread::interrupt);
        for (Thread worker : workers) {
            try {
                worker.join(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
