package io.pgwarden.backup;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.Encoding;
import io.pgwarden.repository.Sealed;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.io.BlockingPipe;
import io.pgwarden.repository.codec.Codecs;
import io.pgwarden.repository.codec.HashingInputStream;
import io.pgwarden.repository.codec.HashingOutputStream;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.Executors;
import java.util.function.UnaryOperator;

/**
 * Streams what a tool writes to its stdout, or what the daemon itself produces (a tar of the data directory),
 * compressed, (with a keyset) encrypted and hashed as stored, into one repository object while it is written:
 * nothing touches local disk and memory holds a few chunks. The upload is completed only when the tool exits 0 (the
 * producer returns); otherwise it is aborted and the object never appears. The SHA-256 recorded is of the object as
 * stored: hashing the raw bytes cost a second of CPU per GB, 13 % of a base backup's on two cores.
 */
final class ToolOutputUpload {
    /** Uploads run beside the tool's output; virtual threads, shared. */
    private static final ExecutorService UPLOADS = Executors.newVirtualThreadPerTaskExecutor();

    private final StorageDriver storage;
    private final WalRepository wal;
    private final Encoding encoding;

    ToolOutputUpload(StorageDriver storage, WalRepository wal) {
        this.storage = storage;
        this.wal = wal;
        this.encoding = wal.encoding();
    }

    /**
     * What was stored: the raw size, the stored (compressed, encrypted) size, the SHA-256 of the raw bytes (small
     * files) or of the object as stored (tool output, produced data), the other null, and the key it is encrypted
     * with (null: in clear).
     */
    record Uploaded(long rawBytes, long storedBytes, String sha256, String storedSha256, Sealed encryption) {
    }

    /**
     * @param tap sees the raw stdout first (e.g. to sniff backup_label); returns the stream to store
     * @param what names the run in errors, e.g. "cluster 'main': dump of database 'app'"
     */
    Uploaded run(ToolRunner runner, ToolInvocation invocation, String key, UnaryOperator<InputStream> tap, String what) {
        return run(runner, invocation, null, key, tap, what);
    }

    /** @param stdin fed to the tool (e.g. the parent's backup manifest of an incremental backup); null: none */
    Uploaded run(ToolRunner runner, ToolInvocation invocation, InputStream stdin, String key, UnaryOperator<InputStream> tap, String what) {
        return run(runner, invocation, stdin, key, tap, null, what);
    }

    /**
     * @param stopTool makes the tool exit when the repository is lost while it is quiet (see {@link QuietWatch});
     *                 null: no watch
     */
    Uploaded run(ToolRunner runner, ToolInvocation invocation, InputStream stdin, String key, UnaryOperator<InputStream> tap,
                 Runnable stopTool, String what) {
        // Why first: never write an object in clear into an encrypted repository, or under a key it does not know.
        wal.ensureMarkerChecked();
        BlockingPipe pipe = new BlockingPipe();
        CompletableFuture<Void> upload = uploadFrom(pipe, key);
        HashingInputStream[] raw = new HashingInputStream[1];
        HashingOutputStream stored = new HashingOutputStream(pipe.writer(1 << 20));
        QuietWatch[] watch = new QuietWatch[1];
        try {
            runToSuccess(runner, invocation, stdin, stdout -> {
                raw[0] = HashingInputStream.countingOnly(tap.apply(stdout));
                if (stopTool != null) watch[0] = new QuietWatch(raw[0]::count, key, stopTool, invocation.runId());
                try (OutputStream z = encoding.encoder(key, stored, 1)) {
                    Codecs.pump(raw[0], z);
                }
            }, pipe, upload, what);
        } catch (RuntimeException e) {
            RuntimeException lost = watch[0] == null ? null : watch[0].lost();
            if (lost == null) throw e;
            throw new PgwardenException(lost instanceof PgwardenException p ? p.code() : ErrorCode.STORAGE, what + ": the repository could not be"
                    + " reached while " + invocation.tool() + " sent nothing (" + lost.getMessage() + "); " + invocation.tool() + " was stopped", lost);
        } finally {
            if (watch[0] != null) watch[0].close();
        }
        pipe.finish(null);
        completed(upload);
        if (raw[0] == null) throw new PgwardenException(ErrorCode.TOOL, what + ": " + invocation.tool() + " produced no output");
        return new Uploaded(raw[0].count(), stored.count(), null, stored.sha256Hex(), encoding.sealing().orElse(null));
    }

    /**
     * A tool that writes its output already compressed with zstd (the repository's codec) into {@code file}, read as it
     * grows (pg_basebackup -D with PostgreSQL compressing): the bytes go as they are, (with a keyset) encrypted and
     * hashed as stored, into one object. On the way they are decoded, only to count the raw bytes (the manifest records
     * them, a restore checks them) and keep the first {@code keepHead} (backup_label); that also proves them well-formed.
     * The upload completes once a whole tar has come (or the tool has exited 0 and the bytes decoded), so when the run
     * fails after that (the tool failing or writing more) the object exists: the caller deletes {@code key}, as it does
     * for every failed base backup.
     */
    CompressedUpload runCompressedFile(ToolRunner runner, ToolInvocation invocation, InputStream stdin, java.nio.file.Path file, String key,
                                       int keepHead, String what) {
        if (encoding.compression() != io.pgwarden.repository.codec.Compression.ZSTD) throw new IllegalStateException("zstd only");
        wal.ensureMarkerChecked();
        BlockingPipe pipe = new BlockingPipe();
        CompletableFuture<Void> upload = uploadFrom(pipe, key);
        HashingOutputStream stored = new HashingOutputStream(pipe.writer(1 << 20));
        long[] read = new long[1];
        boolean[] archiveEnded = new boolean[1];
        try (io.pgwarden.repository.codec.ZstdCount decoded = new io.pgwarden.repository.codec.ZstdCount(keepHead)) {
            runToSuccess(runner, invocation, stdin, stdout -> {
                AtomicBoolean ended = endOf(stdout, invocation);
                try (io.pgwarden.io.GrowingFileInputStream in = new io.pgwarden.io.GrowingFileInputStream(file, new QuietTool(ended, upload, key),
                        RELEASE_EVERY)) {
                    copyUntilArchiveEnd(in, decoded, key, stored);
                    if (decoded.archiveEnded()) {
                        // Why not wait for the tool: PostgreSQL sends the archive's end, then waits for the backup's
                        // WAL to be archived (about a second) before the tool can exit; the upload completes meanwhile.
                        pipe.finish(null);
                        completed(upload);
                        archiveEnded[0] = true;
                        long after = in.transferTo(OutputStream.nullOutputStream());
                        if (after > 0) {
                            throw new PgwardenException(ErrorCode.TOOL, what + ": " + invocation.tool() + " wrote " + after
                                    + " more bytes into '" + file.getFileName() + "' after its tar's end; nothing was kept");
                        }
                    }
                    read[0] = in.position();
                }
            }, pipe, upload, what);
            if (read[0] == 0) {
                abandon(pipe, upload, invocation.tool() + " wrote nothing", null);
                throw new PgwardenException(ErrorCode.TOOL, what + ": " + invocation.tool() + " wrote no '" + file.getFileName() + "'");
            }
            long rawBytes;
            try {
                rawBytes = decoded.finish();
            } catch (IOException e) {
                abandon(pipe, upload, "the output did not decode", e);
                throw new PgwardenException(ErrorCode.TOOL, what + ": " + invocation.tool() + "'s '" + file.getFileName() + "' is "
                        + e.getMessage() + "; nothing was stored", e);
            }
            if (!archiveEnded[0]) {
                pipe.finish(null);
                completed(upload);
            }
            return new CompressedUpload(new Uploaded(rawBytes, stored.count(), null, stored.sha256Hex(), encoding.sealing().orElse(null)),
                    decoded.head());
        }
    }

    /** True once the tool has ended: its stdout (empty, as it writes into a file) ends then. */
    private static AtomicBoolean endOf(InputStream stdout, ToolInvocation invocation) {
        AtomicBoolean ended = new AtomicBoolean();
        Thread.ofVirtual().name("tool-end-" + invocation.runId()).start(() -> {
            try {
                stdout.transferTo(OutputStream.nullOutputStream()); // the runner closes it
            } catch (IOException gone) {
                // ended all the same
            }
            ended.set(true);
        });
        return ended;
    }

    /** Stores the file's bytes as they are (sealed with a keyset) until the tool ends or a whole tar has come. */
    private void copyUntilArchiveEnd(io.pgwarden.io.GrowingFileInputStream in, io.pgwarden.repository.codec.ZstdCount decoded, String key,
                                     OutputStream stored) throws IOException {
        try (OutputStream sealed = encoding.sealer(key, stored)) {
            byte[] chunk = new byte[1 << 20];
            int n;
            while ((n = in.read(chunk)) > 0) {
                decoded.update(chunk, 0, n);
                sealed.write(chunk, 0, n);
                if (decoded.archiveEnded() && in.available() == 0) return;
            }
        }
    }

    /** @param head the first decoded bytes */
    record CompressedUpload(Uploaded uploaded, byte[] head) {
    }

    /**
     * The tool's side of its output file. A tool can be quiet for long: pg_basebackup at the end, while PostgreSQL waits
     * for the backup's WAL to be archived. The upload then waits for bytes and notices no repository failure, and a
     * repository that is gone stops the archiving too, so the wait would last until it is back: while the tool is
     * quiet, the repository is checked every {@link #QUIET_CHECK}, and its failure ends the run.
     */
    private final class QuietTool implements io.pgwarden.io.GrowingFileInputStream.Writer {
        private final AtomicBoolean ended;
        private final CompletableFuture<Void> upload;
        private final String key;
        private long lastCheck = System.nanoTime();

        QuietTool(AtomicBoolean ended, CompletableFuture<Void> upload, String key) {
            this.ended = ended;
            this.upload = upload;
            this.key = key;
        }

        @Override
        public boolean ended() throws IOException {
            if (upload.isCompletedExceptionally()) throw new IOException("the upload of '" + key + "' failed");
            return ended.get();
        }

        @Override
        public void waiting(long idleNanos) {
            long now = System.nanoTime();
            if (idleNanos < QUIET_CHECK.toNanos() || now - lastCheck < QUIET_CHECK.toNanos()) return;
            lastCheck = now;
            storage.stat(key); // throws, naming the key, when the repository cannot be reached
        }
    }

    private static final java.time.Duration QUIET_CHECK = java.time.Duration.ofSeconds(10);

    /**
     * The same for a tool read from its stdout (pg_basebackup with the daemon compressing), whose reader blocks while
     * the tool is quiet: a thread beside it checks the repository every {@link #QUIET_CHECK} of quiet, and when that
     * fails, stops the tool (pg_basebackup: its server side is ended, so it exits with an error), so the run ends.
     */
    private final class QuietWatch implements AutoCloseable {
        private final Thread thread;
        private volatile RuntimeException lost;

        QuietWatch(java.util.function.LongSupplier progress, String key, Runnable stopTool, String runId) {
            thread = Thread.ofVirtual().name("quiet-" + runId).start(() -> {
                long seen = -1;
                long quietSince = System.nanoTime();
                while (true) {
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException closed) {
                        return;
                    }
                    long now = progress.getAsLong();
                    if (now != seen) {
                        seen = now;
                        quietSince = System.nanoTime();
                    } else if (System.nanoTime() - quietSince >= QUIET_CHECK.toNanos()) {
                        quietSince = System.nanoTime();
                        try {
                            storage.stat(key); // throws, naming the key, when the repository cannot be reached
                        } catch (RuntimeException e) {
                            lost = e;
                            stopTool.run();
                            return;
                        }
                    }
                }
            });
        }

        /** The repository's failure that stopped the tool, or null. */
        RuntimeException lost() {
            return lost;
        }

        @Override
        public void close() {
            thread.interrupt();
        }
    }

    /** How much of a tool's output file is read before its disk space is given back. */
    private static final long RELEASE_EVERY = 64 << 20;

    /** Writes the raw bytes of an object (e.g. a tar of the data directory); what it throws aborts the upload. */
    interface Producer {
        void writeTo(OutputStream raw) throws IOException;
    }

    /**
     * The bytes a producer writes, compressed on {@code workers} zstd threads, encrypted and hashed, into one object
     * while it writes; the object appears only if the producer returns.
     */
    Uploaded produced(String key, int workers, Producer producer, String what) {
        wal.ensureMarkerChecked();
        BlockingPipe pipe = new BlockingPipe();
        CompletableFuture<Void> upload = uploadFrom(pipe, key);
        HashingOutputStream stored = new HashingOutputStream(pipe.writer(1 << 20));
        long[] raw = new long[1];
        try {
            try (OutputStream z = encoding.encoder(key, stored, workers)) {
                producer.writeTo(new CountingOutputStream(z, raw));
            }
        } catch (IOException | RuntimeException e) {
            pipe.finish(new RunEnded(what + " failed: " + e.getMessage(), e));
            RuntimeException failure = e instanceof RuntimeException r ? r : new PgwardenException(ErrorCode.TOOL, what + ": " + e.getMessage(), e);
            throw uploadFailureOr(upload, failure);
        }
        pipe.finish(null);
        completed(upload);
        return new Uploaded(raw[0], stored.count(), null, stored.sha256Hex(), encoding.sealing().orElse(null));
    }

    /**
     * A local file (a base backup's captured backup_manifest) stored as one object, hashed, compressed and encrypted
     * like the tool output beside it.
     */
    Uploaded file(java.nio.file.Path file, String key) {
        wal.ensureMarkerChecked();
        BlockingPipe pipe = new BlockingPipe();
        HashingInputStream[] raw = new HashingInputStream[1];
        long[] stored = new long[1];
        CompletableFuture<Void> encoded = pipe.feedFrom(out -> {
            try (InputStream in = raw[0] = new HashingInputStream(java.nio.file.Files.newInputStream(file));
                 OutputStream z = encoding.encoder(key, new CountingOutputStream(out, stored), 1)) {
                Codecs.pump(in, z);
            }
        }, 64 << 10, "upload-" + key);
        try {
            storage.put(key, pipe, encoding.metadata());
        } finally {
            pipe.close();
        }
        try {
            encoded.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new io.pgwarden.error.PgwardenException(ErrorCode.STORAGE,
                    "cannot read '" + file + "' to store it as '" + key + "': " + e.getCause().getMessage(), e.getCause());
        }
        return new Uploaded(raw[0].count(), stored[0], raw[0].sha256Hex(), null, encoding.sealing().orElse(null));
    }

    /** Runs the tool feeding the upload; when it fails or exits non-zero, the upload is abandoned and the failure thrown. */
    private static void runToSuccess(ToolRunner runner, ToolInvocation invocation, InputStream stdin, io.pgwarden.runner.StdoutConsumer consumer,
                                     BlockingPipe pipe, CompletableFuture<Void> upload, String what) {
        ToolResult result;
        try {
            result = runner.run(invocation, stdin, consumer);
        } catch (RuntimeException e) {
            pipe.finish(new RunEnded(invocation.tool() + " run failed: " + e.getMessage(), e));
            throw uploadFailureOr(upload, e);
        }
        if (!result.succeeded()) {
            abandon(pipe, upload, invocation.tool() + " failed", null);
            throw new PgwardenException(ErrorCode.TOOL, what + " failed: " + result.failureSummary(invocation.tool()));
        }
    }

    /** Ends the pipe with {@code why}, so the put aborts, and waits for it: no object appears. */
    private static void abandon(BlockingPipe pipe, CompletableFuture<Void> upload, String why, Throwable cause) {
        pipe.finish(new RunEnded(why, cause));
        upload.exceptionally(x -> null).join();
    }

    /** The put that reads {@code pipe} into {@code key}, beside the writer. */
    private CompletableFuture<Void> uploadFrom(BlockingPipe pipe, String key) {
        // Why close when the put ends: a put that fails (S3 gone, disk full) stops reading, and the writer would block
        // on the full pipe forever, the run staying "running"; closed, the next write fails and the run is stopped.
        return CompletableFuture.runAsync(() -> {
            try {
                storage.put(key, pipe, encoding.metadata());
            } finally {
                pipe.close();
            }
        }, UPLOADS);
    }

    /** Waits for the put after the pipe was finished; its failure is the run's. */
    private static void completed(CompletableFuture<Void> upload) {
        try {
            upload.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    /**
     * When the tool's run failed because the upload did (S3 down, disk full), the storage error is the one to report;
     * an upload that failed only because the run ended the pipe is not.
     */
    private static RuntimeException uploadFailureOr(CompletableFuture<Void> upload, RuntimeException toolError) {
        try {
            upload.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof PgwardenException p && !io.pgwarden.error.Errors.causedBy(p, RunEnded.class)) return p;
        }
        return toolError;
    }

    /** What the run hands the pipe when it ends it early, so the upload's failure can be told from a storage failure. */
    private static final class RunEnded extends IOException {
        RunEnded(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static final class CountingOutputStream extends FilterOutputStream {
        private final long[] count;

        CountingOutputStream(OutputStream out, long[] count) {
            super(out);
            this.count = count;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count[0] += len;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count[0]++;
        }
    }
}
