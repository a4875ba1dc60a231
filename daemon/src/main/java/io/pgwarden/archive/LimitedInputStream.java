package io.pgwarden.archive;

import io.pgwarden.pg.WalFileName;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Refuses a body (chunked or lying about its length) once it grows past the limit. */
final class LimitedInputStream extends FilterInputStream {
    private final long limit;
    private final String fileName;
    private long count;

    LimitedInputStream(InputStream in, long limit, String fileName) {
        super(in);
        this.limit = limit;
        this.fileName = fileName;
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) add(1);
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) add(n);
        return n;
    }

    private void add(int n) {
        count += n;
        if (count > limit) throw WalArchiver.tooLarge(WalFileName.parse(fileName), count, limit);
    }
}
