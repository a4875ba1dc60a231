package io.pgwarden.archive;

import io.pgwarden.config.ClusterConfig;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.pg.WalSegmentHeader;
import io.pgwarden.repository.ClusterInfo;
import io.pgwarden.repository.ClusterInfoStore;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.repository.codec.Codecs;
import io.pgwarden.repository.codec.HashingInputStream;
import io.pgwarden.repository.codec.SpillBuffer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Clock;
import java.util.Optional;

/**
 * Archives one WAL file pushed by archive_command. Only returns once the file is durable in the repository:
 * PostgreSQL deletes its copy after a success.
 */
public final class WalArchiver {
    /** Encoded WAL up to this size stays in memory before upload; larger spills to the spool directory. */
    private static final long SPILL_THRESHOLD = 24L << 20;
    /** Large reads keep per-call overhead (JNI into zstd, digest updates) small next to the work. */
    private static final int COPY_BUFFER = 256 << 10;

    private final PgwardenConfig config;
    private final ClusterInfoStore clusterInfo;
    private final WalRepository wal;
    private final Clock clock;

    public WalArchiver(PgwardenConfig config, ClusterInfoStore clusterInfo, WalRepository wal, Clock clock) {
        this.config = config;
        this.clusterInfo = clusterInfo;
        this.wal = wal;
        this.clock = clock;
    }

    /** @param contentLength the announced body length, or -1 when unknown (chunked) */
    public PushResult push(String cluster, String fileName, InputStream body, long contentLength) throws IOException {
        ClusterConfig clusterConfig = config.cluster(cluster);
        WalFileName name = WalFileName.parse(fileName);
        long limit = config.server().maxBodyBytes();
        if (contentLength > limit) throw tooLarge(name, contentLength, limit);
        Optional<ClusterInfo> known = clusterInfo.get(cluster);
        if (name.isSegmentFile() && contentLength >= 0 && known.isPresent() && contentLength != known.get().segmentSize()) {
            throw wrongSize(name, contentLength, known.get().segmentSize());
        }

        HashingInputStream raw = new HashingInputStream(new LimitedInputStream(body, limit, name.name()));
        // Why first: a segment's header tells who wrote it; refuse foreign WAL before storing a byte.
        byte[] head = name.isSegmentFile() ? raw.readNBytes(WalSegmentHeader.LENGTH) : new byte[0];
        WalSegmentHeader header = name.isSegmentFile() ? checkHeader(head, name, clusterConfig, known) : null;

        SpillBuffer encoded = new SpillBuffer(SPILL_THRESHOLD, config.server().spoolDir());
        try {
            encode(head, raw, encoded);
            if (header != null && raw.count() != header.segmentSize()) throw wrongSize(name, raw.count(), header.segmentSize());
            String sha256 = raw.sha256Hex();

            // Why: PostgreSQL re-pushes after a crash; identical content is a success, different content never overwrites.
            Optional<WalRepository.StoredWal> existing = wal.find(cluster, name);
            if (existing.isPresent()) return duplicate(cluster, name, existing.get(), sha256, raw.count());

            if (header != null && known.isEmpty()) pin(cluster, clusterConfig, name, header);
            wal.store(cluster, name, encoded, raw.count(), sha256);
            return new PushResult(PushResult.Outcome.CREATED, raw.count(), encoded.size());
        } finally {
            encoded.discard();
        }
    }

    /** One zstd worker compresses while this thread receives and hashes: the two cores work at once. */
    private void encode(byte[] head, InputStream rest, SpillBuffer sink) throws IOException {
        var repo = config.repository();
        try (OutputStream out = Codecs.compress(repo.compression(), repo.compressionLevel(), 1, sink)) {
            out.write(head);
            byte[] buf = new byte[COPY_BUFFER];
            int n;
            while ((n = rest.readNBytes(buf, 0, buf.length)) > 0) out.write(buf, 0, n);
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
