package io.pgwarden.storage;

import io.pgwarden.io.Fsync;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.UUID;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A repository in a local directory. Writes are atomic and durable: temp file, fsync, rename, fsync directory.
 * Object metadata lives beside the object in a hidden {@code .NAME.meta} file, renamed into place before the
 * object itself, so a visible object always has its metadata.
 */
public final class FilesystemStorage implements StorageDriver {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BUFFER = 1 << 20;
    /** {@code .NAME.tmp-UUID} (object) and {@code .NAME.meta.tmp-UUID} (its metadata), as {@link #put} names them. */
    private static final java.util.regex.Pattern TEMP_FILE =
            java.util.regex.Pattern.compile("\\.(.+?)(?:\\.meta)?\\.tmp-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private final Path root;

    public FilesystemStorage(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    @Override
    public void put(String key, InputStream content, Map<String, String> metadata) {
        write(key, content, metadata, false);
    }

    /** Decided under a lock on the object's directory (this JVM's and other processes'), with nothing replaced. */
    @Override
    public boolean create(String key, SizedContent content, Map<String, String> metadata) {
        try (InputStream in = content.open()) {
            return write(key, in, metadata, true);
        } catch (IOException e) {
            throw failure("cannot read the content for", key, e);
        }
    }

    /**
     * Temp files first (written and fsynced outside any lock), then metadata and object renamed into place with the
     * directory fsynced after each: a crash between them leaves metadata without an object (harmless, replaced by the
     * next write), never an object without metadata. Returns false when {@code onlyIfAbsent} and the key exists.
     */
    private boolean write(String key, InputStream content, Map<String, String> metadata, boolean onlyIfAbsent) {
        Path target = resolve(key);
        Path dir = target.getParent();
        String token = UUID.randomUUID().toString();
        Path tmp = dir.resolve("." + target.getFileName() + ".tmp-" + token);
        Path metaTmp = dir.resolve("." + target.getFileName() + ".meta.tmp-" + token);
        try {
            createDirectories(dir);
            writeDurably(tmp, content);
            writeDurably(metaTmp, new java.io.ByteArrayInputStream(JSON.writeValueAsBytes(metadata)));
            try (DirectoryLock lock = DirectoryLock.acquire(dir)) {
                if (onlyIfAbsent && Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return false;
                move(metaTmp, metaPath(target));
                Fsync.directory(dir);
                move(tmp, target);
                Fsync.directory(dir);
            }
            return true;
        } catch (IOException e) {
            throw failure("cannot write", key, e);
        } finally {
            deleteQuietly(tmp);
            deleteQuietly(metaTmp);
        }
    }

    @Override
    public void put(String key, SizedContent content, Map<String, String> metadata) {
        try (InputStream in = content.open()) {
            put(key, in, metadata);
        } catch (IOException e) {
            throw failure("cannot read the content for", key, e);
        }
    }

    @Override
    public Optional<ObjectInfo> stat(String key) {
        Path target = resolve(key);
        try {
            var attributes = Files.readAttributes(target, java.nio.file.attribute.BasicFileAttributes.class);
            return Optional.of(new ObjectInfo(key, attributes.size(), readMetadata(target), attributes.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw failure("cannot read", key, e);
        }
    }

    @Override
    public Optional<StoredObject> get(String key) {
        Optional<ObjectInfo> info = stat(key);
        if (info.isEmpty()) return Optional.empty();
        try {
            return Optional.of(new StoredObject(info.get(), Files.newInputStream(resolve(key))));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw failure("cannot read", key, e);
        }
    }

    @Override
    public Stream<ObjectInfo> list(String prefix) {
        return list(prefix, null);
    }

    /** Skips ahead within the prefix's directory (a WAL timeline's) when startAfter names an entry of it. */
    @Override
    public Stream<ObjectInfo> list(String prefix, String startAfter) {
        Path dir = directoryOf(prefix);
        if (!Files.isDirectory(dir)) return Stream.empty();
        String floor = startAfter != null && directoryOf(startAfter).equals(dir) ? startAfter.substring(startAfter.lastIndexOf('/') + 1) : null;
        Iterator<Path> files = new SortedTreeIterator(dir, floor);
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(files, Spliterator.ORDERED), false)
                .map(p -> root.relativize(p).toString().replace('\\', '/'))
                .filter(k -> k.startsWith(prefix) && (startAfter == null || k.compareTo(startAfter) > 0))
                .map(k -> info(k, root.resolve(k)));
    }

    /** Temp files a writer that died left behind (a live writer's look the same: callers apply a grace period). */
    @Override
    public Stream<IncompleteUpload> incompleteUploads(String prefix) {
        Path dir = directoryOf(prefix);
        if (!Files.isDirectory(dir)) return Stream.empty();
        try {
            return Files.walk(dir).filter(p -> TEMP_FILE.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p))
                    .map(p -> {
                        var m = TEMP_FILE.matcher(p.getFileName().toString());
                        m.matches();
                        String key = root.relativize(p.resolveSibling(m.group(1))).toString().replace('\\', '/');
                        return new IncompleteUpload(key, root.relativize(p).toString(), info(key, p).lastModified());
                    })
                    .filter(u -> u.key().startsWith(prefix));
        } catch (IOException e) {
            throw failure("cannot list the temp files under", prefix, e);
        }
    }

    @Override
    public void abort(IncompleteUpload upload) {
        Path tmp = root.resolve(upload.id()).normalize();
        if (!tmp.startsWith(root) || !TEMP_FILE.matcher(tmp.getFileName().toString()).matches()) {
            throw new IllegalArgumentException("'" + upload.id() + "' is not a temp file of " + describe());
        }
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException e) {
            throw failure("cannot delete the temp file " + upload.id() + " of", upload.key(), e);
        }
    }

    /** The directory holding every key that starts with prefix (the part up to its last '/'). */
    private Path directoryOf(String prefix) {
        int slash = prefix.lastIndexOf('/');
        return slash < 0 ? root : root.resolve(Keys.check(prefix.substring(0, slash)));
    }

    @Override
    public void delete(String key) {
        Path target = resolve(key);
        try {
            Files.deleteIfExists(target);
            Files.deleteIfExists(metaPath(target));
        } catch (IOException e) {
            throw failure("cannot delete", key, e);
        }
    }

    /** Creates the repository root if it is missing (the embedded default needs no set-up). */
    public void createRoot() {
        try {
            createDirectories(root);
        } catch (IOException e) {
            throw failure("cannot create the repository directory", "", e);
        }
    }

    @Override
    public void prepare() {
        createRoot();
    }

    @Override
    public void checkReachable() {
        if (!Files.isDirectory(root) || !Files.isWritable(root)) {
            throw new PgwardenException(ErrorCode.REPOSITORY_UNAVAILABLE,
                    "filesystem repository '" + root + "' is not a writable directory");
        }
    }

    @Override
    public String describe() {
        return "file://" + root;
    }

    @Override
    public void close() {
    }

    private Path resolve(String key) {
        return root.resolve(Keys.check(key));
    }

    private static Path metaPath(Path target) {
        return target.resolveSibling("." + target.getFileName() + ".meta");
    }

    private static Map<String, String> readMetadata(Path target) throws IOException {
        try {
            return JSON.readValue(Files.readAllBytes(metaPath(target)), new TypeReference<Map<String, String>>() { });
        } catch (NoSuchFileException e) {
            return Map.of();
        }
    }

    private static void writeDurably(Path file, InputStream content) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            byte[] buf = new byte[BUFFER];
            int n;
            while ((n = content.read(buf)) >= 0) {
                ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                while (bb.hasRemaining()) ch.write(bb);
            }
            ch.force(true);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the filesystem under '" + to.getParent() + "' does not support atomic rename", e);
        }
    }

    /** Creates missing directories and fsyncs each parent, so a new directory survives a crash too. */
    private void createDirectories(Path dir) throws IOException {
        if (Files.isDirectory(dir)) return;
        createDirectories(dir.getParent());
        try {
            Files.createDirectory(dir);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            return; // a concurrent writer made it
        }
        Fsync.directory(dir.getParent());
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover hidden temp file is invisible and harmless
        }
    }

    private static ObjectInfo info(String key, Path p) {
        try {
            var attributes = Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class);
            return new ObjectInfo(key, attributes.size(), Map.of(), attributes.lastModifiedTime().toInstant());
        } catch (IOException e) {
            return new ObjectInfo(key, -1, Map.of(), java.time.Instant.EPOCH); // deleted between listing and stat
        }
    }

    private PgwardenException failure(String action, String key, IOException e) {
        return new PgwardenException(ErrorCode.STORAGE,
                "filesystem repository '" + root + "': " + action + " '" + key + "': " + e, e);
    }

    /**
     * Serialises publishing in one directory: a lock in this JVM (FileLock is per process) plus a FileLock on the
     * directory's hidden {@code .lock} file, so two daemons sharing a repository cannot both create one key.
     */
    private static final class DirectoryLock implements AutoCloseable {
        /** Striped, so the number of locks stays fixed however many directories the repository grows. */
        private static final java.util.concurrent.locks.ReentrantLock[] IN_JVM = java.util.stream.Stream
                .generate(java.util.concurrent.locks.ReentrantLock::new).limit(64).toArray(java.util.concurrent.locks.ReentrantLock[]::new);
        private final java.util.concurrent.locks.ReentrantLock local;
        private final FileChannel channel;

        private DirectoryLock(java.util.concurrent.locks.ReentrantLock local, FileChannel channel) {
            this.local = local;
            this.channel = channel;
        }

        static DirectoryLock acquire(Path dir) throws IOException {
            var local = IN_JVM[Math.floorMod(dir.hashCode(), IN_JVM.length)];
            local.lock();
            try {
                FileChannel channel = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                try {
                    channel.lock();
                } catch (IOException | RuntimeException e) {
                    channel.close();
                    throw e;
                }
                return new DirectoryLock(local, channel);
            } catch (IOException | RuntimeException e) {
                local.unlock();
                throw e;
            }
        }

        @Override
        public void close() throws IOException {
            try {
                channel.close(); // releases the FileLock
            } finally {
                local.unlock();
            }
        }
    }

    /** Depth-first walk that sorts one directory's entries at a time and skips hidden files (temp, metadata). */
    private static final class SortedTreeIterator implements Iterator<Path> {
        private final List<Iterator<Path>> stack = new ArrayList<>();
        private Path next;

        /** @param floor names in {@code dir} (not below it) that sort before it are skipped; null for none */
        SortedTreeIterator(Path dir, String floor) {
            stack.add(new SortedDirectory(dir, SortedDirectory.WINDOW, floor));
            advance();
        }

        private void advance() {
            next = null;
            while (!stack.isEmpty() && next == null) {
                Iterator<Path> top = stack.get(stack.size() - 1);
                if (!top.hasNext()) {
                    stack.remove(stack.size() - 1);
                    continue;
                }
                Path p = top.next();
                if (Files.isDirectory(p)) stack.add(sortedEntries(p));
                else next = p;
            }
        }

        private static Iterator<Path> sortedEntries(Path dir) {
            return new SortedDirectory(dir, SortedDirectory.WINDOW, null);
        }

        @Override
        public boolean hasNext() {
            return next != null;
        }

        @Override
        public Path next() {
            if (next == null) throw new java.util.NoSuchElementException();
            Path p = next;
            advance();
            return p;
        }
    }
}
