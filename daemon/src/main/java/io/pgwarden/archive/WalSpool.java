package io.pgwarden.archive;

import io.pgwarden.io.Fsync;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.config.ArchiveConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.io.BoundedInputStream;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.repository.WalRepository.StoredWal;
import io.pgwarden.storage.StorageDriver;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One cluster's durable WAL spool (archive.durability: spool). A push is acknowledged once its encoded object is
 * fsynced here; {@link SpoolUploader} stores it in the repository later and deletes it. Under {walSpoolDir}/{cluster}/:
 * <ul>
 * <li>{@code NAME}: a committed file: the encoded object exactly as the repository will hold it, then a footer (JSON:
 * key and metadata), its length (4 bytes) and a magic string. Written whole to a temp file, fsynced, renamed, the
 * directory fsynced: a file under its WAL name is complete.</li>
 * <li>{@code .NAME.ID.pgwarden-tmp}: a push being received; never acknowledged, so removed at start.</li>
 * <li>{@code conflict/NAME}: kept for the operator, never uploaded: the repository already held different content
 * under the name, or the file was not one pgwarden spooled (no footer, or a footer naming another key).</li>
 * <li>{@code .lock}: held by the one process that uses the directory.</li>
 * </ul>
 * The backlog lives in memory as an index sorted in WAL order (a few hundred bytes per waiting file; the backlog is
 * bounded by archive.maxBacklog), rebuilt from the directory at start.
 */
public final class WalSpool implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WalSpool.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TMP_SUFFIX = ".pgwarden-tmp";
    private static final byte[] MAGIC = "pgwarden-spool-v1".getBytes(StandardCharsets.US_ASCII);
    private static final int MAX_FOOTER = 64 << 10;
    /** How long an uploaded file's checksum is remembered: longer than any repository lookup a push may still be waiting for. */
    private static final Duration RECENT = Duration.ofMinutes(10);

    /** A committed file waiting for its upload. */
    public record Spooled(WalFileName name, Path file, long encodedLength, Map<String, String> metadata, StoredWal stored,
                          Instant spooledAt) {
        /** The object key it was encoded for and is uploaded under. */
        public String key() {
            return stored.key();
        }
    }

    private record Uploaded(StoredWal stored, Instant at) {
    }

    /** Footer of a spooled file. */
    private record Footer(String key, Map<String, String> metadata, long spooledAtMillis) {
    }

    private final String cluster;
    private final Path dir;
    private final WalRepository wal;
    private final Clock clock;
    private final FileChannel lockFile;
    private final ConcurrentSkipListMap<String, Spooled> waiting = new ConcurrentSkipListMap<>();
    private final Set<String> uploading = ConcurrentHashMap.newKeySet();
    /** In upload order, so expired entries are evicted from the front; guarded by itself. */
    private final java.util.LinkedHashMap<String, Uploaded> recentlyUploaded = new java.util.LinkedHashMap<>();
    private final AtomicLong bytes = new AtomicLong();
    private final Object changed = new Object();

    private WalSpool(String cluster, Path dir, WalRepository wal, Clock clock, FileChannel lockFile) {
        this.cluster = cluster;
        this.dir = dir;
        this.wal = wal;
        this.clock = clock;
        this.lockFile = lockFile;
    }

    /** Opens (creating) the cluster's spool under root, takes its lock, and loads what an earlier run left waiting. */
    public static WalSpool open(Path root, String cluster, WalRepository wal, Clock clock) {
        Path dir = root.resolve(cluster);
        FileChannel lockFile = null;
        try {
            Files.createDirectories(dir.resolve("conflict"));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            lockFile = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = lockFile.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new PgwardenException(ErrorCode.CONFIG, "the WAL spool '" + dir + "' of cluster '" + cluster + "' is in use by another"
                        + " pgwarden process; give each daemon its own server.walSpoolDir", null);
            }
            WalSpool spool = new WalSpool(cluster, dir, wal, clock, lockFile);
            spool.load();
            return spool;
        } catch (IOException e) {
            closeQuietly(lockFile);
            throw new PgwardenException(ErrorCode.CONFIG, "cannot use the WAL spool '" + dir + "' of cluster '" + cluster + "': " + e, e);
        } catch (RuntimeException e) {
            closeQuietly(lockFile);
            throw e;
        }
    }

    private void load() throws IOException {
        int removed = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                String fileName = file.getFileName().toString();
                if (fileName.startsWith(".") && fileName.endsWith(TMP_SUFFIX)) {
                    Files.deleteIfExists(file); // a push that was never acknowledged
                    removed++;
                } else if (!fileName.startsWith(".") && Files.isRegularFile(file)) {
                    try {
                        Spooled spooled = read(WalFileName.parse(fileName), file);
                        waiting.put(fileName, spooled);
                        bytes.addAndGet(spooled.encodedLength());
                    } catch (RuntimeException | IOException e) {
                        // Kept, never uploaded: it may be the only copy of something, and the operator decides. Moved
                        // aside so that its name can be spooled again (PostgreSQL may still push it).
                        Path aside = aside(file);
                        Files.move(file, aside);
                        log.error("cluster '{}': '{}' in the WAL spool is not a file pgwarden spooled ({}); moved to '{}' and not uploaded",
                                cluster, file, e.getMessage(), aside);
                    }
                }
            }
        }
        if (removed > 0) log.info("cluster '{}': removed {} unacknowledged partial pushes from the WAL spool '{}'", cluster, removed, dir);
        if (!waiting.isEmpty()) {
            log.info("cluster '{}': {} WAL files ({} bytes) in the spool '{}' wait for their upload, from {}", cluster, waiting.size(),
                    bytes.get(), dir, waiting.firstKey());
        }
    }

    private Spooled read(WalFileName name, Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            int trailer = 4 + MAGIC.length;
            if (size < trailer) throw new IOException("too short for a spooled file");
            ByteBuffer tail = readAt(ch, size - trailer, trailer);
            int footerLength = tail.getInt();
            byte[] magic = new byte[MAGIC.length];
            tail.get(magic);
            if (!Arrays.equals(magic, MAGIC) || footerLength <= 0 || footerLength > MAX_FOOTER || footerLength > size - trailer) {
                throw new IOException("no spool footer");
            }
            ByteBuffer footerBytes = readAt(ch, size - trailer - footerLength, footerLength);
            Footer footer = JSON.readValue(footerBytes.array(), Footer.class);
            if (footer.key() == null || footer.metadata() == null || !WalRepository.isKeyOf(footer.key(), cluster, name)) {
                throw new IOException("its footer names no key of " + name.name() + " in cluster '" + cluster + "'");
            }
            StoredWal stored = wal.describe(footer.key(), footer.metadata());
            return new Spooled(name, file, size - trailer - footerLength, Map.copyOf(footer.metadata()), stored,
                    Instant.ofEpochMilli(footer.spooledAtMillis()));
        }
    }

    /** length bytes at position, flipped for reading (a positional read may return fewer bytes than asked). */
    private static ByteBuffer readAt(FileChannel ch, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (ch.read(buffer, position + buffer.position()) < 0) throw new IOException("ends early");
        }
        return buffer.flip();
    }

    /** A push being received into the spool: write the encoded object to {@link #stream()}, then {@link #commit}. */
    public final class Write implements AutoCloseable {
        private final Path temp;
        private final FileChannel channel;
        private final OutputStream out;
        private final String key;
        private boolean done;
        private long encodedLength;

        private Write(WalFileName name) throws IOException {
            this.temp = dir.resolve("." + name.name() + "." + UUID.randomUUID() + TMP_SUFFIX);
            this.channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            this.out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16);
            this.key = wal.key(cluster, name);
        }

        /**
         * Where the encoded object goes; closing it does not close the write. A failed write of the spool file (a full
         * disk) is a {@link WriteFailed}, so it is not mistaken for the client going away.
         */
        public OutputStream stream() {
            return new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    try {
                        out.write(b, off, len);
                    } catch (IOException e) {
                        throw new WriteFailed(e);
                    }
                }

                @Override
                public void close() throws IOException {
                    try {
                        out.flush();
                    } catch (IOException e) {
                        throw new WriteFailed(e);
                    }
                }
            };
        }

        /** Bytes of the encoded object, once committed. */
        public long encodedLength() {
            return encodedLength;
        }

        /** Abandons the write unless it was committed. */
        @Override
        public void close() {
            if (done) return;
            done = true;
            closeQuietly(channel);
            try {
                Files.deleteIfExists(temp);
            } catch (IOException e) {
                log.warn("cluster '{}': cannot remove '{}': {}", cluster, temp, e.toString());
            }
        }
    }

    /** Writing the spool file failed (not reading the push). */
    public static final class WriteFailed extends IOException {
        WriteFailed(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /** The error a push gets when the spool cannot take its file: 503, PostgreSQL retries. */
    public PgwardenException spoolFailed(WalFileName name, IOException e) {
        return PgwardenException.unavailable("WAL file '" + name.name() + "' of cluster '" + cluster + "' was not stored: cannot write"
                + " the spool '" + dir + "' (server.walSpoolDir): " + e.getMessage(), e);
    }

    public Write begin(WalFileName name) throws IOException {
        try {
            return new Write(name);
        } catch (IOException e) {
            throw spoolFailed(name, e);
        }
    }

    /**
     * Makes the write durable under its WAL name. The caller holds the name's lock. Empty: spooled now, it may be
     * acknowledged. Present: the name is spooled or was uploaded already; this is what it holds, and nothing was written.
     */
    public Optional<StoredWal> commit(Write write, WalFileName name, Map<String, String> metadata) throws IOException {
        Optional<StoredWal> known = find(name);
        if (known.isPresent()) {
            write.close();
            return known;
        }
        Instant now = clock.instant();
        try {
            byte[] footer = JSON.writeValueAsBytes(new Footer(write.key, metadata, now.toEpochMilli()));
            write.out.write(footer);
            write.out.write(ByteBuffer.allocate(4).putInt(footer.length).array());
            write.out.write(MAGIC);
            write.out.flush();
            long encodedLength = write.channel.size() - footer.length - 4 - MAGIC.length;
            write.encodedLength = encodedLength;
            write.channel.force(true);
            write.channel.close();
            Path file = dir.resolve(name.name());
            Files.move(write.temp, file, StandardCopyOption.ATOMIC_MOVE);
            write.done = true;
            Fsync.directory(dir);
            Spooled spooled = new Spooled(name, file, encodedLength, Map.copyOf(metadata), wal.describe(write.key, metadata), now);
            waiting.put(name.name(), spooled);
            bytes.addAndGet(encodedLength);
            synchronized (changed) {
                changed.notifyAll();
            }
            return Optional.empty();
        } catch (IOException e) {
            write.close();
            throw spoolFailed(name, e);
        }
    }

    /** The name's content if it is spooled or was uploaded from here lately. */
    public Optional<StoredWal> find(WalFileName name) {
        Spooled spooled = waiting.get(name.name());
        if (spooled != null) return Optional.of(spooled.stored());
        Uploaded uploaded;
        synchronized (recentlyUploaded) {
            uploaded = recentlyUploaded.get(name.name());
        }
        return uploaded == null ? Optional.empty() : Optional.of(uploaded.stored());
    }

    /** Whether the name waits here (a parent timeline's history file a new one is checked against, say). */
    public boolean holds(WalFileName name) {
        return waiting.containsKey(name.name());
    }

    /** A spooled file as a stored object, for a WAL GET before its upload; empty when not (or no longer) here. */
    public Optional<StorageDriver.StoredObject> open(WalFileName name) {
        Spooled spooled = waiting.get(name.name());
        if (spooled == null) return Optional.empty();
        try {
            InputStream in = Files.newInputStream(spooled.file());
            return Optional.of(new StorageDriver.StoredObject(new StorageDriver.ObjectInfo(spooled.key(), spooled.encodedLength(),
                    spooled.metadata(), spooled.spooledAt()), new BoundedInputStream(in, spooled.encodedLength())));
        } catch (NoSuchFileException uploadedMeanwhile) {
            return Optional.empty();
        } catch (IOException e) {
            throw PgwardenException.unavailable("cannot read WAL file '" + name.name() + "' of cluster '" + cluster + "' from the spool '"
                    + spooled.file() + "': " + e, e);
        }
    }

    /** The encoded object of a spooled file, to upload. */
    StorageDriver.SizedContent content(Spooled spooled) {
        return new StorageDriver.SizedContent() {
            @Override
            public long length() {
                return spooled.encodedLength();
            }

            @Override
            public InputStream open() throws IOException {
                return new BoundedInputStream(Files.newInputStream(spooled.file()), spooled.encodedLength());
            }
        };
    }

    /** The first waiting file in WAL order that no upload has taken; waits until there is one. */
    Spooled claim() throws InterruptedException {
        synchronized (changed) {
            while (true) {
                for (Spooled spooled : waiting.values()) {
                    if (uploading.add(spooled.name().name())) return spooled;
                }
                changed.wait();
            }
        }
    }

    /** The upload failed; the file waits for the next attempt. */
    void release(Spooled spooled) {
        uploading.remove(spooled.name().name());
        synchronized (changed) {
            changed.notifyAll();
        }
    }

    /** Stored in the repository (by this upload or an identical earlier one): the spooled copy goes. Under the name's lock. */
    void uploaded(Spooled spooled) {
        Instant now = clock.instant();
        synchronized (recentlyUploaded) {
            var oldest = recentlyUploaded.values().iterator();
            while (oldest.hasNext() && oldest.next().at().isBefore(now.minus(RECENT))) oldest.remove();
            recentlyUploaded.remove(spooled.name().name()); // re-inserted at the end: the order stays the upload order
            recentlyUploaded.put(spooled.name().name(), new Uploaded(spooled.stored(), now));
        }
        forget(spooled);
        try {
            Files.deleteIfExists(spooled.file());
        } catch (IOException e) {
            // Uploaded already: a copy left behind is uploaded again at the next start and found identical.
            log.warn("cluster '{}': cannot remove uploaded '{}' from the spool: {}", cluster, spooled.file(), e.toString());
        }
    }

    /** The repository holds different content under the name: never overwritten; the spooled file is kept aside. */
    Path conflicted(Spooled spooled) throws IOException {
        Path aside = aside(spooled.file());
        Files.move(spooled.file(), aside);
        forget(spooled);
        return aside;
    }

    /** A free name for a file kept for the operator: conflict/NAME, or conflict/NAME.N when that is taken. */
    private Path aside(Path file) {
        Path conflicts = dir.resolve("conflict");
        String name = file.getFileName().toString();
        Path aside = conflicts.resolve(name);
        for (int n = 1; Files.exists(aside, java.nio.file.LinkOption.NOFOLLOW_LINKS); n++) aside = conflicts.resolve(name + "." + n);
        return aside;
    }

    private void forget(Spooled spooled) {
        if (waiting.remove(spooled.name().name(), spooled)) bytes.addAndGet(-spooled.encodedLength());
        uploading.remove(spooled.name().name());
        synchronized (changed) {
            changed.notifyAll();
        }
    }

    /** Refuses a push of a new file while the backlog is over either bound: PostgreSQL keeps its WAL and retries. */
    public void checkBacklog(ArchiveConfig limits, WalFileName name) {
        // A file spooled already adds nothing: its push is judged against the spooled copy (PostgreSQL re-pushes after a crash).
        if (waiting.containsKey(name.name())) return;
        long held = bytes.get();
        if (held >= limits.maxBacklogBytes()) {
            throw PgwardenException.unavailable(("WAL file '%s' of cluster '%s' was not accepted: the spool holds %d bytes in %d files waiting"
                    + " for upload, at least archive.maxBacklog (%d bytes); PostgreSQL keeps the file and retries")
                    .formatted(name.name(), cluster, held, waiting.size(), limits.maxBacklogBytes()), null);
        }
        Optional<Instant> oldest = oldest();
        if (oldest.isPresent() && Duration.between(oldest.get(), clock.instant()).compareTo(limits.maxBacklogAge()) > 0) {
            throw PgwardenException.unavailable(("WAL file '%s' of cluster '%s' was not accepted: the oldest file in the spool waits for its"
                    + " upload since %s, longer than archive.maxBacklogAge (%s); is the repository reachable? PostgreSQL keeps the file and retries")
                    .formatted(name.name(), cluster, oldest.get(), limits.maxBacklogAge()), null);
        }
    }

    public long bytes() {
        return bytes.get();
    }

    public int files() {
        return waiting.size();
    }

    /** When the longest-waiting file was spooled. */
    public Optional<Instant> oldest() {
        return waiting.values().stream().map(Spooled::spooledAt).min(Instant::compareTo);
    }

    public String cluster() {
        return cluster;
    }

    public Path directory() {
        return dir;
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel == null) return;
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing was committed through it
        }
    }

    @Override
    public void close() {
        closeQuietly(lockFile); // releases the lock
    }
}
