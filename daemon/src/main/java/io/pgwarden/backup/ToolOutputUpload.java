package io.pgwarden.backup;

import io.pgwarden.config.RepositoryConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.codec.BlockingPipe;
import io.pgwarden.repository.codec.Codecs;
import io.pgwarden.repository.codec.HashingInputStream;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.storage.StorageDriver;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.UnaryOperator;

/**
 * Runs a tool and streams its stdout, hashed and compressed, into one repository object while the tool runs:
 * nothing touches local disk and memory holds a few chunks. The upload is completed only when the tool exits 0;
 * otherwise it is aborted and the object never appears.
 */
final class ToolOutputUpload {
    /** Uploads run beside the tool's output; virtual threads, shared. */
    private static final ExecutorService UPLOADS = Executors.newVirtualThreadPerTaskExecutor();

    private final StorageDriver storage;
    private final RepositoryConfig repository;

    ToolOutputUpload(StorageDriver storage, RepositoryConfig repository) {
        this.storage = storage;
        this.repository = repository;
    }

    /** What was stored: the raw (tool output) size and SHA-256, and the stored (compressed) size. */
    record Uploaded(long rawBytes, long storedBytes, String sha256) {
    }

    /**
     * @param tap sees the raw stdout first (e.g. to sniff backup_label); returns the stream to store
     * @param what names the run in errors, e.g. "cluster 'main': dump of database 'app'"
     */
    Uploaded run(ToolRunner runner, ToolInvocation invocation, String key, UnaryOperator<InputStream> tap, String what) {
        String codec = repository.compression().name().toLowerCase();
        BlockingPipe pipe = new BlockingPipe();
        CompletableFuture<Void> upload = CompletableFuture.runAsync(() -> storage.put(key, pipe, Map.of("codec", codec)), UPLOADS);
        HashingInputStream[] raw = new HashingInputStream[1];
        long[] stored = new long[1];
        ToolResult result;
        try {
            result = runner.run(invocation, stdout -> {
                raw[0] = new HashingInputStream(tap.apply(stdout));
                OutputStream counted = new CountingOutputStream(pipe.writer(1 << 20), stored);
                try (OutputStream z = Codecs.compress(repository.compression(), repository.compressionLevel(), 1, counted)) {
                    Codecs.pump(raw[0], z);
                }
            });
        } catch (RuntimeException e) {
            pipe.finish(e);
            throw uploadFailureOr(upload, e);
        }
        if (!result.succeeded()) {
            pipe.finish(new IOException(invocation.tool() + " failed"));
            upload.exceptionally(x -> null).join();
            throw new PgwardenException(ErrorCode.TOOL, what + " failed: " + result.failureSummary(invocation.tool()));
        }
        pipe.finish(null);
        try {
            upload.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        if (raw[0] == null) throw new PgwardenException(ErrorCode.TOOL, what + ": " + invocation.tool() + " produced no output");
        return new Uploaded(raw[0].count(), stored[0], raw[0].sha256Hex());
    }

    /** When the tool failed because the upload did (S3 down), the storage error is the one to report. */
    private static RuntimeException uploadFailureOr(CompletableFuture<Void> upload, RuntimeException toolError) {
        try {
            upload.join();
        } catch (CompletionException e) {
            // The upload failing on its own (not because we ended the pipe) is the root cause.
            if (e.getCause() instanceof PgwardenException p && !(p.getCause() instanceof IOException)) return p;
        }
        return toolError;
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
