package io.pgwarden.repository.codec;

import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/** The compression stage and its inverse. Closing the returned stream finishes the frame and closes the sink. */
public final class Codecs {
    private static final int BUFFER = 1 << 16;
    /** Large reads keep per-call overhead (JNI into zstd, digest updates) small next to the work. */
    private static final int PUMP_BUFFER = 256 << 10;
    /**
     * Input per zstd worker job. zstd's default at level 1 is 2 MiB, and a stream keeps its workers' jobs' input and
     * output buffers in native memory: 1 MiB jobs lowered the daemon's peak RSS over base backups by 8-18 MiB (process
     * runner 185-190 -> 177-180, sidecars 199-210 -> 189-197, method files 198-199 -> 181) at the same throughput.
     */
    private static final int JOB_SIZE = 1 << 20;

    private Codecs() {
    }

    public static OutputStream compress(Compression compression, int level, OutputStream sink) throws IOException {
        return compress(compression, level, 0, sink);
    }

    /**
     * @param workers zstd only: native threads that compress while the caller keeps feeding input
     *                (0 = compress on the caller's thread)
     */
    public static OutputStream compress(Compression compression, int level, int workers, OutputStream sink) throws IOException {
        return switch (compression) {
            case ZSTD -> new ZstdOutputStream(sink, level).setChecksum(true).setWorkers(workers).setJobSize(JOB_SIZE); // jobs: workers only
            case GZIP -> new LeveledGzipOutputStream(sink, level);
            case NONE -> new FilterOutputStream(sink) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                }
            };
        };
    }

    public static InputStream decompress(Compression compression, InputStream source) throws IOException {
        return switch (compression) {
            case ZSTD -> new ZstdInputStream(source);
            case GZIP -> new GZIPInputStream(source, BUFFER);
            case NONE -> source;
        };
    }

    /** Copies everything from in to out in large chunks (InputStream.transferTo uses 16 KiB). */
    public static void pump(InputStream in, OutputStream out) throws IOException {
        byte[] buf = new byte[PUMP_BUFFER];
        int n;
        while ((n = in.readNBytes(buf, 0, buf.length)) > 0) out.write(buf, 0, n);
    }

    private static final class LeveledGzipOutputStream extends GZIPOutputStream {
        LeveledGzipOutputStream(OutputStream out, int level) throws IOException {
            super(out, BUFFER);
            def.setLevel(level);
        }
    }
}
