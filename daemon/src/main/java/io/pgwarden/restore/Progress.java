package io.pgwarden.restore;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;

/**
 * Restore progress: bytes, percentage, rate and ETA. On a terminal one line redrawn in place; otherwise a plain
 * line every few seconds (journal, CI logs).
 */
public final class Progress {
    private final PrintWriter out;
    private final long total;
    private final boolean terminal;
    private final long started = System.nanoTime();
    private long done;
    private long lastPrint;

    public Progress(PrintWriter out, long total, boolean terminal) {
        this.out = out;
        this.total = total;
        this.terminal = terminal;
    }

    /** Progress that only counts (a daemon's restore: the status query reads it). */
    static Progress silent(long total) {
        return new Progress(new PrintWriter(OutputStream.nullOutputStream()), total, false);
    }

    OutputStream counting(OutputStream target) {
        return new FilterOutputStream(target) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
                advance(len);
            }

            @Override
            public void write(int b) throws IOException {
                out.write(b);
                advance(1);
            }
        };
    }

    private synchronized void advance(long n) {
        done += n;
        long now = System.nanoTime();
        if (now - lastPrint < (terminal ? 200_000_000L : 5_000_000_000L)) return;
        lastPrint = now;
        print(false);
    }

    public synchronized long bytesDone() {
        return done;
    }

    synchronized void done() {
        print(true);
    }

    private void print(boolean last) {
        double seconds = Math.max(1e-3, (System.nanoTime() - started) / 1e9);
        double rate = done / seconds;
        String line = "restored %.1f of %.1f MB (%d%%), %.1f MB/s, ETA %s".formatted(done / 1e6, total / 1e6,
                total == 0 ? 100 : done * 100 / total, rate / 1e6, last ? "done" : eta(rate));
        if (terminal) out.print("\r" + line + (last ? "\n" : ""));
        else out.println(line);
        out.flush();
    }

    private String eta(double rate) {
        if (rate <= 0) return "?";
        long s = (long) ((total - done) / rate);
        return s >= 3600 ? "%dh%02dm".formatted(s / 3600, s / 60 % 60) : "%dm%02ds".formatted(s / 60, s % 60);
    }
}
