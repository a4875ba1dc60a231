package io.pgwarden.archive;

import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.HistoryFiles;
import io.pgwarden.pg.TimelineHistory;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.pg.WalSegmentHeader;
import io.pgwarden.repository.ClusterInfo;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.repository.codec.Codecs;
import io.pgwarden.repository.codec.HashingInputStream;
import io.pgwarden.io.SpillBuffer;
import io.pgwarden.storage.ChunkPool;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Clock;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Archives one WAL file pushed by archive_command. Only returns once the file is durable: in the repository, or, for a
 * cluster with archive.durability: spool, in its local spool ({@link WalSpool}), uploaded later. PostgreSQL deletes
 * its copy after a success.
 */
public final class WalArchiver {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(WalArchiver.class);
    /** Encoded WAL up to this size stays in memory before upload (chunks of the pool permitting); larger spills to disk. */
    private static final long SPILL_THRESHOLD = 8L << 20;
    /**
     * How long a spooled push waits for the repository to say whether its name is archived: a repository that hangs must
     * not hold up pushes the spool could take (the upload's conditional create still never overwrites).
     */
    private static final java.time.Duration SPOOL_LOOKUP_WAIT = java.time.Duration.ofSeconds(2);
    /** zstd worker threads compressing pushes at once, across pushes; a push finding none compresses on its own thread. */
    private static final java.util.concurrent.Semaphore ENCODER_WORKERS = new java.util.concurrent.Semaphore(2);
    /** Repository lookups made while a body is still arriving: blocking I/O, so virtual threads. */
    private static final ExecutorService LOOKUPS = Executors.newVirtualThreadPerTaskExecutor();

    /** One store decision at a time per WAL file name, across all pushes and spool uploads of this daemon. */
    static final NamedLocks PUSHES = new NamedLocks();

    private final PgwardenConfig config;
    private final ChunkPool buffers;
    private final long spillThreshold;
    private final ClusterInfoStore clusterInfo;
    private final WalRepository wal;
    private final Clock clock;
    private final RequestSlots slots;
    private final java.util.Map<String, WalSpool> spools;

    /** @param spools the spool of each cluster whose pushes are acknowledged once spooled */
    /** @param buffers the upload memory this process's storage driver uses too */
    public WalArchiver(PgwardenConfig config, ClusterInfoStore clusterInfo, WalRepository wal, Clock clock, RequestSlots slots,
                       java.util.Map<String, WalSpool> spools, ChunkPool buffers) {
        this.config = config;
        this.buffers = buffers;
        // Below one part: an object of a part or more is uploaded in pooled parts, which must not be waited for by a
        // push that still holds pooled chunks of its own (so with the smallest parts, 5 MiB, pushes spill above 4).
        long partSize = config.repository().s3().map(io.pgwarden.config.S3Config::partSize).orElse(Long.MAX_VALUE);
        this.spillThreshold = Math.min(SPILL_THRESHOLD, partSize - ChunkPool.CHUNK);
        this.spools = java.util.Map.copyOf(spools);
        this.clusterInfo = clusterInfo;
        this.wal = wal;
        this.clock = clock;
        this.slots = slots;
    }

    /** @param contentLength the announced body length, or -1 when unknown (chunked) */
    public PushResult push(String cluster, String fileName, InputStream body, long contentLength) throws IOException {
        ClusterConfig clusterConfig = config.cluster(cluster);
        WalFileName name = WalFileName.parse(fileName);
        long limit = config.server().maxBodyBytes();
        if (contentLength > limit) throw tooLarge(name, contentLength, limit);

        WalSpool spool = spools.get(cluster);
        // Before the body: a push that cannot be accepted costs PostgreSQL no upload of 16 MiB.
        if (spool != null) spool.checkBacklog(clusterConfig.archive(), name);
        // Why a slot first: each push holds up to a spool threshold of memory, and every repository call below may
        // block (a repository that never answers): a bounded number of them keeps memory and threads bounded.
        try (RequestSlots.Permit slot = slots.acquire(cluster, "WAL file '" + name.name() + "'")) {
            Optional<ClusterInfo> known = clusterInfo.get(cluster);
            if (name.isSegmentFile() && contentLength >= 0 && known.isPresent() && contentLength != known.get().segmentSize()) {
                throw wrongSize(name, contentLength, known.get().segmentSize());
            }
            if (spool == null) return receiveAndStore(cluster, clusterConfig, name, body, known, null, null);
            // Why now: whether the file is already archived does not depend on the body; ask while it arrives. Only a
            // spooled push asks: a synchronous one learns it from its conditional create, without a request per push.
            // Under the key the upload will create, as that create would: one HEAD, not one per codec (three HEADs
            // answering 404 for every new file).
            CompletableFuture<Optional<WalRepository.StoredWal>> existing = CompletableFuture.supplyAsync(() -> wal.findUnderCurrentKey(cluster, name), LOOKUPS);
            try {
                return receiveAndStore(cluster, clusterConfig, name, body, known, existing, spool);
            } finally {
                existing.cancel(false);
            }
        }
    }

    private PushResult receiveAndStore(String cluster, ClusterConfig clusterConfig, WalFileName name, InputStream body,
                                       Optional<ClusterInfo> known, CompletableFuture<Optional<WalRepository.StoredWal>> existingLookup,
                                       WalSpool spool) throws IOException {
        long limit = config.server().maxBodyBytes();
        HashingInputStream raw = new HashingInputStream(new LimitedInputStream(body, limit, name.name()));
        // Why first: a segment's header tells who wrote it; refuse foreign WAL before storing a byte.
        byte[] head = name.isSegmentFile() ? raw.readNBytes(WalSegmentHeader.LENGTH) : raw.readNBytes(HistoryFiles.MAX_BYTES + 1);
        WalSegmentHeader header = name.isSegmentFile() ? checkHeader(head, name, clusterConfig, known) : null;
        // Why whole: a history file is small, and one PostgreSQL could not have written would be kept forever.
        if (!name.isSegmentFile()) checkHistoryFile(cluster, name, head, known, spool);
        if (spool != null) return receiveIntoSpool(cluster, clusterConfig, name, head, raw, header, known, existingLookup, spool);

        SpillBuffer encoded = new SpillBuffer(buffers, spillThreshold, config.server().spoolDir(), config.server().instance());
        long started = System.nanoTime();
        try {
            try {
                encode(cluster, name, head, raw, encoded);
            } catch (SpillBuffer.SpoolException e) {
                throw PgwardenException.unavailable("WAL file '" + name.name() + "' of cluster '" + cluster + "' was not stored: "
                        + e.getMessage(), e);
            }
            long encodedAt = System.nanoTime();
            if (header != null && raw.count() != header.segmentSize()) throw wrongSize(name, raw.count(), header.segmentSize());
            String sha256 = raw.sha256Hex();

            if (header != null && known.isEmpty()) pin(cluster, clusterConfig, name, header);
            long checkedAt = System.nanoTime();
            // Why a create under a lock: PostgreSQL re-pushes after a crash, and two pushes of one name may race here
            // (PostgreSQL retrying while the first is still in flight, or a hostile push); exactly one is stored, the
            // other is compared with it: identical content is a success, different content never overwrites. The lock
            // covers stores whose check is not atomic; the conditional create covers other daemons.
            try (NamedLocks.Held held = PUSHES.lock(cluster + "/" + name.name())) {
                if (!wal.create(cluster, name, encoded, raw.count(), sha256)) {
                    return duplicate(cluster, name, wal.find(cluster, name).orElseThrow(() -> PgwardenException.unavailable(
                            "WAL file '" + name.name() + "' of cluster '" + cluster + "' was archived by a racing push and is gone again; retry", null)),
                            sha256, raw.count());
                }
            }
            if (log.isDebugEnabled()) {
                log.debug("cluster '{}': {}: received and encoded {} -> {} bytes in {} ms, checked in {} ms, stored in {} ms", cluster,
                        name.name(), raw.count(), encoded.length(), (encodedAt - started) / 1_000_000, (checkedAt - encodedAt) / 1_000_000,
                        (System.nanoTime() - checkedAt) / 1_000_000);
            }
            return new PushResult(PushResult.Outcome.CREATED, raw.count(), encoded.length());
        } finally {
            encoded.discard();
        }
    }

    /**
     * The spool variant: the encoded file goes to the spool and is acknowledged once fsynced there. A repository that
     * cannot say whether the name is archived does not refuse the push (riding out an outage is the point): the upload's
     * conditional create still never overwrites, and keeps a differing file aside.
     */
    private PushResult receiveIntoSpool(String cluster, ClusterConfig clusterConfig, WalFileName name, byte[] head, HashingInputStream raw,
                                        WalSegmentHeader header, Optional<ClusterInfo> known,
                                        CompletableFuture<Optional<WalRepository.StoredWal>> existingLookup, WalSpool spool) throws IOException {
        try (WalSpool.Write write = spool.begin(name)) {
            try {
                encode(cluster, name, head, raw, write.stream());
            } catch (WalSpool.WriteFailed e) {
                throw spool.spoolFailed(name, e);
            }
            if (header != null && raw.count() != header.segmentSize()) throw wrongSize(name, raw.count(), header.segmentSize());
            String sha256 = raw.sha256Hex();
            Optional<WalRepository.StoredWal> existing;
            try {
                existing = existingLookup.get(SPOOL_LOOKUP_WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                log.debug("cluster '{}': {}: the repository has not said within {} whether it is archived; spooling it", cluster, name.name(), SPOOL_LOOKUP_WAIT);
                existing = Optional.empty();
            } catch (java.util.concurrent.ExecutionException e) {
                if (!(e.getCause() instanceof PgwardenException p) || (p.code() != io.pgwarden.error.ErrorCode.REPOSITORY_UNAVAILABLE
                        && p.code() != io.pgwarden.error.ErrorCode.STORAGE)) {
                    throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
                }
                log.debug("cluster '{}': {}: the repository cannot say whether it is archived ({}); spooling it", cluster, name.name(), p.getMessage());
                existing = Optional.empty();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while archiving " + name.name());
            }
            if (existing.isPresent()) return duplicate(cluster, name, existing.get(), sha256, raw.count());
            if (header != null && known.isEmpty()) pin(cluster, clusterConfig, name, header);
            try (NamedLocks.Held held = PUSHES.lock(cluster + "/" + name.name())) {
                Optional<WalRepository.StoredWal> spooled = spool.commit(write, name, wal.metadata(raw.count(), sha256));
                if (spooled.isPresent()) return duplicate(cluster, name, spooled.get(), sha256, raw.count());
            }
            return new PushResult(PushResult.Outcome.CREATED, raw.count(), write.encodedLength());
        }
    }

    /**
     * zstd workers compress while this thread receives and hashes: two when both are free (PostgreSQL's archiver pushes
     * one file at a time), else the one that is, else none. Bounded across pushes: a worker's job buffers take
     * about 8 MiB of native memory, and with several pushes in flight their own threads keep the cores busy anyway.
     * Two workers for a push alone, against one: 1.12x the pushes per second (same runs, alternating, two each).
     */
    private void encode(String cluster, WalFileName name, byte[] head, InputStream rest, OutputStream sink) throws IOException {
        int workers = ENCODER_WORKERS.tryAcquire(2) ? 2 : ENCODER_WORKERS.tryAcquire() ? 1 : 0;
        try (OutputStream out = wal.encoder(cluster, name, sink, workers)) {
            out.write(head);
            Codecs.pump(rest, out);
        } finally {
            ENCODER_WORKERS.release(workers);
        }
    }

    private static WalSegmentHeader checkHeader(byte[] bytes, WalFileName name, ClusterConfig cluster, Optional<ClusterInfo> known) {
        WalSegmentHeader header = WalSegmentHeader.parse(bytes, name.name());
        header.checkMatches(name);
        long expected = cluster.systemIdentifier().orElse(known.map(ClusterInfo::systemIdentifierValue).orElse(header.systemIdentifier()));
        if (header.systemIdentifier() != expected) {
            throw PgwardenException.conflict("WAL file '%s' belongs to database system %s, but cluster '%s' is system %s"
                    .formatted(name.name(), Long.toUnsignedString(header.systemIdentifier()), cluster.name(), Long.toUnsignedString(expected)));
        }
        if (known.isPresent() && header.segmentSize() != known.get().segmentSize()) {
            throw wrongSize(name, header.segmentSize(), known.get().segmentSize());
        }
        return header;
    }

    private void checkHistoryFile(String cluster, WalFileName name, byte[] content, Optional<ClusterInfo> known, WalSpool spool) {
        if (name.kind() == WalFileName.Kind.BACKUP_HISTORY) {
            HistoryFiles.checkBackupHistory(name, content, known.map(i -> OptionalLong.of(i.segmentSize())).orElse(OptionalLong.empty()));
            return;
        }
        TimelineHistory history = HistoryFiles.checkTimelineHistory(name, content);
        // PostgreSQL names a new timeline one above the newest whose history it finds in the archive, or above its
        // parent: any other number is not a promotion (e.g. 7FFFFFFF.history planted to derail every "latest" restore).
        int parent = history.ancestors().getLast().timeline();
        int below = name.timeline() - 1;
        WalFileName belowHistory = WalFileName.history(below);
        if (parent != below && (spool == null || !spool.holds(belowHistory)) && wal.find(cluster, belowHistory).isEmpty()) {
            throw PgwardenException.badRequest(("'%s' is not a history file PostgreSQL could have written: its parent is timeline %d,"
                    + " but timeline %d has no archived history file (a new timeline is one above its parent or above the newest"
                    + " archived history); nothing was stored").formatted(name.name(), parent, below));
        }
    }

    private void pin(String cluster, ClusterConfig clusterConfig, WalFileName name, WalSegmentHeader header) {
        ClusterInfo candidate = new ClusterInfo(ClusterInfo.formatSystemIdentifier(header.systemIdentifier()),
                header.segmentSize(), header.pgMajor(), clock.instant(), "first archived segment " + name.name());
        ClusterInfo pinned = clusterInfo.pin(cluster, candidate);
        if (!pinned.systemIdentifier().equals(candidate.systemIdentifier())) {
            throw PgwardenException.conflict("WAL file '%s' belongs to database system %s, but cluster '%s' is system %s"
                    .formatted(name.name(), candidate.systemIdentifier(), cluster, pinned.systemIdentifier()));
        }
    }

    private static PushResult duplicate(String cluster, WalFileName name, WalRepository.StoredWal stored, String sha256, long rawSize) {
        if (stored.sha256().equals(sha256) && stored.rawSize() == rawSize) {
            return new PushResult(PushResult.Outcome.DUPLICATE, rawSize, 0);
        }
        throw PgwardenException.conflict("WAL file '%s' of cluster '%s' is already archived with different content (stored sha256 %s, received %s); the stored file is kept"
                .formatted(name.name(), cluster, stored.sha256(), sha256));
    }

    private static PgwardenException wrongSize(WalFileName name, long size, long expected) {
        return PgwardenException.badRequest("WAL file '%s' is %d bytes, but a segment of this cluster is %d bytes"
                .formatted(name.name(), size, expected));
    }

    static PgwardenException tooLarge(WalFileName name, long size, long limit) {
        return PgwardenException.tooLarge("WAL file '%s' is %d bytes, larger than the limit of %d bytes (server.maxBodySize)"
                .formatted(name.name(), size, limit));
    }
}
