package io.pgwarden.archive;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/** A lock per name, held by as many callers as wait for it and dropped when the last releases it (memory stays flat). */
final class NamedLocks {
    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();

    private static final class Entry {
        final ReentrantLock lock = new ReentrantLock();
        int users; // guarded by the map's compute
    }

    /** Released by closing. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    Held lock(String name) {
        Entry entry = entries.compute(name, (k, e) -> {
            Entry held = e == null ? new Entry() : e;
            held.users++;
            return held;
        });
        entry.lock.lock();
        return () -> {
            entry.lock.unlock();
            entries.compute(name, (k, e) -> --e.users == 0 ? null : e);
        };
    }
}
