package io.pgwarden.archive;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.Lsn;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.repository.ClusterInfo;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.VerifiedObject;
import io.pgwarden.repository.WalRepository;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Read-ahead for recoveries. PostgreSQL's startup process asks restore_command for one segment at a time and waits for
 * each; a GET of segment N starts downloads of N+1..N+depth on the same timeline, a few at a time, into a local
 * directory, so the next requests are answered from disk. A prefetched file was verified (size and SHA-256, and
 * authenticated when encrypted) while it was written; it is served once and then deleted. A corrupt object found
 * ahead is reported to the request for it, before any byte is sent; anything else that goes wrong ahead (a missing
 * segment, an unreachable repository, a full disk) only means the request is served from the repository as without
 * read-ahead. Bounded: depth files per cluster, a few downloads at once, and a
 * file nobody asked for within the expiry is deleted.
 */
public final class WalReadAhead implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WalReadAhead.class);
    private static final Duration EXPIRY = Duration.ofMinutes(2);
    private static final int MAX_RECOVERIES = 4;

    private final WalRepository wal;
    private final ClusterInfoStore clusterInfo;
    private final Path dir;
    private final int depth;
    private final Semaphore downloads;
    private final Map<String, Ahead> ahead = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** A segment on its way or arrived. The future always completes normally: an expiry or a close never throws. */
    private record Ahead(String cluster, CompletableFuture<Fetched> result, long createdNanos) {
    }

    /** How a download ahead ended. */
    private sealed interface Fetched {
        /** Verified and complete. */
        record Ready(Path file) implements Fetched {
        }

        /** Not there (yet), unreachable, disk full: the request is served from the repository. */
        record Unavailable() implements Fetched {
        }

        /** Read whole and found corrupt: the request for it is answered with this, before any byte is sent. */
        record Corrupt(PgwardenException error) implements Fetched {
        }
    }

    /** A prefetched segment, served once: closing deletes it. */
    public record Prefetched(Path file, long size) implements AutoCloseable {
        @Override
        public void close() {
            delete(file);
        }
    }

    /**
     * @param dir      removed now (a killed daemon's files are stale), made when first needed
     * @param depth    how many segments after the requested one are fetched ahead (0: off)
     * @param parallel downloads at once
     */
    public WalReadAhead(WalRepository wal, ClusterInfoStore clusterInfo, Path dir, int depth, int parallel) throws IOException {
        this.wal = wal;
        this.clusterInfo = clusterInfo;
        this.dir = dir;
        this.depth = depth;
        this.downloads = new Semaphore(Math.max(1, parallel));
        deleteTree(dir);
    }

    /** WAL in clear (decrypted, when the repository is encrypted): for this daemon's user only. */
    private synchronized void ensureDirectory() throws IOException {
        if (Files.isDirectory(dir)) return;
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    }

    /**
     * The segment if it was fetched ahead (waiting for a download in flight: it would only be fetched again), and
     * the next ones started. Empty: serve it from the repository.
     */
    public Optional<Prefetched> take(String cluster, WalFileName name) {
        if (depth == 0 || name.kind() != WalFileName.Kind.SEGMENT) return Optional.empty();
        expire();
        Ahead mine = ahead.remove(key(cluster, name.name()));
        startAfter(cluster, name);
        if (mine == null) return Optional.empty();
        return switch (mine.result().join()) {
            case Fetched.Ready ready -> Optional.of(new Prefetched(ready.file(), sizeOf(ready.file())));
            case Fetched.Unavailable unavailable -> Optional.empty();
            // Said before a byte is sent: served from the repository, the stream would break off midway, after its status line.
            case Fetched.Corrupt corrupt -> throw corrupt.error();
        };
    }

    private void startAfter(String cluster, WalFileName name) {
        Optional<ClusterInfo> info;
        try {
            info = clusterInfo.get(cluster);
        } catch (RuntimeException e) {
            return; // the repository is down: the request itself will say so
        }
        if (info.isEmpty()) return;
        long segmentSize = info.get().segmentSize();
        long number = name.segmentNumber(segmentSize);
        for (int i = 1; i <= depth && !closed; i++) {
            // Bounded whatever the requests: several recoveries at once share it, a scatter of far-apart GETs fills it.
            if (ahead.size() >= depth * MAX_RECOVERIES) break;
            String next = Lsn.walFile(name.timeline(), number + i, segmentSize);
            ahead.computeIfAbsent(key(cluster, next), k -> new Ahead(cluster, download(cluster, WalFileName.parse(next)), System.nanoTime()));
        }
    }

    private CompletableFuture<Fetched> download(String cluster, WalFileName name) {
        CompletableFuture<Fetched> result = new CompletableFuture<>();
        Thread.ofVirtual().name("wal-read-ahead").start(() -> {
            Path target = dir.resolve(cluster.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + Integer.toHexString(cluster.hashCode()) + "-"
                    + name.name());
            try {
                downloads.acquire();
                try {
                    result.complete(closed ? new Fetched.Unavailable() : fetch(cluster, name, target));
                } finally {
                    downloads.release();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                result.complete(new Fetched.Unavailable());
            } catch (PgwardenException e) {
                delete(target);
                result.complete(e.code() == ErrorCode.INTEGRITY ? new Fetched.Corrupt(e) : new Fetched.Unavailable());
            } catch (IOException | RuntimeException e) {
                // Ahead of need: the request for this segment, if it comes, meets the same problem and reports it.
                delete(target);
                log.debug("cluster '{}': reading {} ahead failed: {}", cluster, name.name(), e.getMessage());
                result.complete(new Fetched.Unavailable());
            }
        });
        return result;
    }

    private Fetched fetch(String cluster, WalFileName name, Path target) throws IOException {
        Optional<VerifiedObject> found = wal.open(cluster, name);
        if (found.isEmpty()) return new Fetched.Unavailable(); // past the end of the archive (yet)
        try {
            ensureDirectory();
        } catch (IOException e) {
            found.get().close();
            throw e;
        }
        try (VerifiedObject object = found.get(); OutputStream out = Files.newOutputStream(target)) {
            object.writeTo(out); // throws, before its last bytes, unless size and SHA-256 match
        }
        return new Fetched.Ready(target);
    }

    /** Files nobody asked for (the recovery stopped, or took another timeline) are removed. */
    private void expire() {
        long now = System.nanoTime();
        ahead.entrySet().removeIf(e -> {
            if (now - e.getValue().createdNanos() < EXPIRY.toNanos() || !e.getValue().result().isDone()) return false;
            deleteIfReady(e.getValue().result().join());
            return true;
        });
    }

    private static void deleteIfReady(Fetched fetched) {
        if (fetched instanceof Fetched.Ready ready) delete(ready.file());
    }

    private static String key(String cluster, String name) {
        return cluster + "/" + name;
    }

    private static long sizeOf(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return -1;
        }
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            log.warn("cannot delete '{}': {}", file, e.getMessage());
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return;
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(WalReadAhead::delete);
        }
    }

    @Override
    public void close() {
        closed = true;
        ahead.values().forEach(a -> a.result().thenAccept(WalReadAhead::deleteIfReady));
        ahead.clear();
    }
}
