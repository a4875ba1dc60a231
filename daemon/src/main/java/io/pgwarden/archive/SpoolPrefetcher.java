package io.pgwarden.archive;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.Lsn;
import io.pgwarden.pg.WalFileName;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The standalone restore_command's background half: one process per spool directory that keeps the next segments of
 * the recovery's timeline fetched, verified and renamed into the spool, as the restore_command moves them out, so a
 * recovery waits for downloads rather than for a JVM per batch. It follows the segment the restore_command last
 * asked for ({@link #WANTED}, written by its shell part), and ends at the archive's end, after {@link #IDLE} in which
 * no segment was taken and none fetched (removing what it fetched), or when another prefetcher holds the spool.
 * Nothing it meets fails a recovery: a segment it cannot fetch is left to that segment's own call, which reports it.
 */
public final class SpoolPrefetcher {
    /** Held while a prefetcher runs (a file lock: released by the kernel when the process dies, even by kill -9). */
    public static final String LOCK = ".prefetcher.lock";
    /** The running prefetcher's pid, for the restore_command's shell part to wait on (kill -0) instead of starting a JVM. */
    public static final String PID = ".prefetcher.pid";
    /** Its output (the launching call redirects it there). */
    public static final String LOG = ".prefetcher.log";
    /** The segment the restore_command asked for last. */
    public static final String WANTED = ".wanted";
    /** Marks a segment the prefetcher could not fetch ({@code .failed-NAME}): its call stops waiting and fetches it itself. */
    public static final String FAILED = ".failed-";
    /** The segment the archive ended at on the last call (wal-fetch notes it): a call asking for it again starts no prefetcher. */
    public static final String ENDED = ".ended";
    /** -Dpgwarden.prefetchIdleSeconds (through PGWARDEN_JAVA_OPTS) shortens it for a test. */
    static final Duration IDLE = Duration.ofSeconds(Long.getLong("pgwarden.prefetchIdleSeconds", 60));
    private static final Duration POLL = Duration.ofMillis(50);
    /**
     * Downloads in flight. Two: four were faster only where each GET waits long (100 ms before each answers: 8.9
     * segments/s against 7.6), and slower on loopback and at 25 ms (0.80x and 0.85x pgBackRest async against 0.88x-1.08x),
     * where they cost more CPU per segment on two cores.
     */
    private static final int PARALLEL = 2;

    private final WalFetcher fetcher;
    private final String cluster;
    private final Path spool;
    private final int depth;
    private final long segmentSize;

    public SpoolPrefetcher(WalFetcher fetcher, String cluster, Path spool, int depth, long segmentSize) {
        this.fetcher = fetcher;
        this.cluster = cluster;
        this.spool = spool;
        this.depth = depth;
        this.segmentSize = segmentSize;
    }

    /** Whether a prefetcher holds the spool now. */
    public static boolean running(Path spool) {
        Path lock = spool.resolve(LOCK);
        if (!Files.exists(lock)) return false;
        try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.WRITE)) {
            FileLock held = ch.tryLock();
            if (held == null) return true;
            held.release();
            return false;
        } catch (IOException | java.nio.channels.OverlappingFileLockException e) {
            return true;
        }
    }

    /**
     * Keeps the segments from {@code from} on (after it, unless {@code inclusive}) coming until the recovery no longer
     * takes them; returns when it ends.
     */
    public void run(WalFileName from, boolean inclusive) throws IOException {
        Files.createDirectories(spool);
        try (FileChannel ch = FileChannel.open(spool.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock lock = ch.tryLock()) {
            if (lock == null) return; // another prefetcher has it
            // Whole or not at all: the restore_command's shell part reads it any time (kill -0), and a file caught
            // between truncation and write would make it take a live prefetcher for dead.
            Path pidTemp = spool.resolve(PID + ".tmp");
            Files.writeString(pidTemp, Long.toString(ProcessHandle.current().pid()));
            Files.move(pidTemp, spool.resolve(PID), java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            try {
                loop(from, inclusive);
            } finally {
                Files.deleteIfExists(spool.resolve(PID));
            }
        }
    }

    private void loop(WalFileName from, boolean inclusive) throws IOException {
        int timeline = from.timeline();
        long next = from.segmentNumber(segmentSize) + (inclusive ? 0 : 1);
        String wantedSeen = from.name();
        int spooledBefore = -1;
        long lastProgress = System.nanoTime();
        Downloads downloads = new Downloads();
        try {
            while (System.nanoTime() - lastProgress < IDLE.toNanos()) {
                Optional<WalFileName> wanted = wanted();
                if (wanted.isPresent() && !wanted.get().name().equals(wantedSeen)) {
                    wantedSeen = wanted.get().name();
                    lastProgress = System.nanoTime();
                    long asked = wanted.get().segmentNumber(segmentSize);
                    // The recovery went elsewhere (another timeline, or to what is not fetched yet): follow it from there,
                    // that segment first, since the call that noted it waits for it.
                    if (wanted.get().timeline() != timeline || asked >= next) {
                        timeline = wanted.get().timeline();
                        next = asked;
                    }
                }
                int arrived = downloads.reap();
                if (arrived < 0) return; // the archive ends here (for now); a later call starts a new prefetcher
                spooledBefore += arrived; // so that segments taken meanwhile count as the recovery's progress
                // Idle means nothing taken and nothing fetched (failed downloads count as idle): against a slow
                // repository, filling the spool can take longer than the bound while the recovery replays one segment.
                if (arrived > 0) lastProgress = System.nanoTime();
                int spooled = spooledSegments();
                if (spooled < spooledBefore) lastProgress = System.nanoTime();
                spooledBefore = spooled;
                // A window, not batches: the next download starts as soon as one ends, so a slow GET (a distant S3)
                // does not hold back the one beside it.
                int room = Math.min(PARALLEL - downloads.inFlight(), depth - spooled - downloads.inFlight());
                for (long n = next; room > 0; n++) {
                    String name = Lsn.walFile(timeline, n, segmentSize);
                    if (!Files.exists(spool.resolve(name)) && downloads.start(name)) room--;
                    next = n + 1;
                }
                if (!downloads.awaitOne()) return;
            }
            downloads.awaitAll();
            // Nothing taken for a while: the recovery stopped short of these (a target reached, the server stopped). They
            // would otherwise stay in the restored server's pg_wal; a later call fetches what it needs again.
            System.err.println("pgwarden wal-fetch prefetcher: no segment taken or fetched for " + IDLE.toSeconds() + " s; removing the "
                    + spooledSegments() + " segments fetched ahead (up to " + Lsn.walFile(timeline, next - 1, segmentSize) + ") and ending");
            clear(spool);
        } finally {
            downloads.awaitAll(); // what the calls wait for is in place before the prefetcher's lock goes
        }
    }

    /**
     * Removes what was fetched or noted for a recovery (segments, half-written files, markers, the wanted name); a
     * running prefetcher's lock, pid and log stay. At the archive's end and when the prefetcher idles out.
     */
    public static void clear(Path spool) throws IOException {
        if (!Files.isDirectory(spool)) return;
        try (Stream<Path> files = Files.list(spool)) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                if (!n.equals(LOCK) && !n.equals(PID) && !n.equals(LOG)) Files.deleteIfExists(f);
            }
        }
    }

    /** The downloads in flight (at most PARALLEL), each on its own virtual thread, and how they ended. */
    private final class Downloads {
        /** How a download ended. */
        private enum Outcome { FETCHED, FAILED, NOT_IN_ARCHIVE }

        private record Ended(String name, Outcome outcome) {
        }

        private final Set<String> running = new HashSet<>();
        private final BlockingQueue<Ended> ended = new LinkedBlockingQueue<>();
        private final List<Thread> threads = new ArrayList<>();

        int inFlight() {
            return running.size();
        }

        /** Starts fetching the segment into the spool; false when it is on its way already. */
        boolean start(String name) {
            if (!running.add(name)) return false;
            threads.add(Thread.ofVirtual().start(() -> {
                Outcome outcome = Outcome.FAILED;
                try {
                    fetcher.fetchToFile(cluster, name, spool.resolve(name));
                    outcome = Outcome.FETCHED;
                } catch (IOException | RuntimeException e) {
                    if (e instanceof PgwardenException p && p.code() == ErrorCode.NOT_FOUND) outcome = Outcome.NOT_IN_ARCHIVE;
                    else {
                        // Ahead of need (corrupt, repository away): the segment's own call reports it; the log says why.
                        System.err.println("pgwarden wal-fetch prefetcher: " + name + " not fetched ahead: " + e);
                        markFailed(name);
                    }
                } finally {
                    ended.add(new Ended(name, outcome));
                }
            }));
            return true;
        }

        /** How many arrived since the last call, or -1 when the archive lacked one (the others are awaited first). */
        int reap() {
            int arrived = 0;
            boolean end = false;
            for (Ended e; (e = ended.poll()) != null; ) {
                running.remove(e.name());
                if (e.outcome() == Outcome.NOT_IN_ARCHIVE) end = true;
                if (e.outcome() == Outcome.FETCHED) arrived++;
            }
            threads.removeIf(t -> !t.isAlive());
            if (!end) return arrived;
            awaitAll();
            return -1;
        }

        /**
         * Until a download ends, a poll interval at most (the recovery's progress is noticed meanwhile); false when
         * interrupted.
         */
        boolean awaitOne() {
            try {
                Ended e = ended.poll(POLL.toMillis(), TimeUnit.MILLISECONDS);
                if (e != null) ended.add(e); // reaped on the next turn
                return true;
            } catch (InterruptedException x) {
                Thread.currentThread().interrupt();
                return false;
            }
        }

        void awaitAll() {
            for (Thread t : threads) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            threads.clear();
        }
    }

    private void markFailed(String name) {
        try {
            Files.writeString(spool.resolve(FAILED + name), "");
        } catch (IOException e) {
            // the call then waits out its bound before fetching the segment itself
        }
    }

    private Optional<WalFileName> wanted() {
        try {
            WalFileName name = WalFileName.parse(Files.readString(spool.resolve(WANTED)).strip());
            return name.kind() == WalFileName.Kind.SEGMENT ? Optional.of(name) : Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // absent, or caught mid-write: the next poll reads it
        }
    }

    private int spooledSegments() throws IOException {
        try (Stream<Path> files = Files.list(spool)) {
            return (int) files.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}")).count();
        }
    }
}
