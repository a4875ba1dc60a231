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
        // Why first: never write an object in clear into an encrypted repository, or under a key it does not know.
        wal.ensureMarkerChecked();
        BlockingPipe pipe = new BlockingPipe();
        CompletableFuture<Void> upload = uploadFrom(pipe, key);
        HashingInputStream[] raw = new HashingInputStream[1];
        HashingOutputStream stored = new HashingOutputStream(pipe.writer(1 << 20));
        ToolResult result;
        try {
            result = runner.run(invocation, stdin, stdout -> {
                raw[0] = HashingInputStream.countingOnly(tap.apply(stdout));
                try (OutputStream z = encoding.encoder(key, stored, 1)) {
                    Codecs.pump(raw[0], z);
                }
            });
        } catch (RuntimeException e) {
            pipe.finish(new RunEnded(invocation.tool() + " run failed: " + e.getMessage(), e));
            throw uploadFailureOr(upload, e);
        }
        if (!result.succeeded()) {
            pipe.finish(new RunEnded(invocation.tool() + " failed", null));
            upload.exceptionally(x -> null).join();
            throw new PgwardenException(ErrorCode.TOOL, what + " failed: " + result.failureSummary(invocation.tool()));
        }
        pipe.finish(null);
        completed(upload);
        if (raw[0] == null) throw new PgwardenException(ErrorCode.TOOL, what + ": " + invocation.tool() + " produced no output");
        return new Uploaded(raw[0].count(), stored.count(), null, stored.sha256Hex(), encoding.sealing().orElse(null));
    }

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
