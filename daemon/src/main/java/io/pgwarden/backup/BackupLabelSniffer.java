package io.pgwarden.backup;

import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Watches a pg_basebackup tar stream go by and keeps the backup_label entry, which pg_basebackup writes first.
 * Only the first few KiB are kept: memory stays flat whatever the backup's size.
 */
final class BackupLabelSniffer extends FilterInputStream {
    static final int KEEP = 64 << 10;
    private final ByteArrayOutputStream head = new ByteArrayOutputStream();

    BackupLabelSniffer(InputStream in) {
        super(in);
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0 && head.size() < KEEP) head.write(b);
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0 && head.size() < KEEP) head.write(b, off, Math.min(n, KEEP - head.size()));
        return n;
    }

    /** The backup_label text, if the tar started with it (ustar header: name at 0, octal size at 124, data at 512). */
    Optional<String> backupLabel() {
        return backupLabel(head.toByteArray());
    }

    /** The backup_label text, if the tar whose first bytes are {@code h} started with it. */
    static Optional<String> backupLabel(byte[] h) {
        if (h.length < 512) return Optional.empty();
        String name = new String(h, 0, 100, StandardCharsets.US_ASCII).replace("\0", "");
        if (!name.equals("backup_label") && !name.equals("./backup_label")) return Optional.empty();
        int size = Integer.parseInt(new String(h, 124, 12, StandardCharsets.US_ASCII).replace("\0", "").trim(), 8);
        if (h.length < 512 + size) return Optional.empty();
        return Optional.of(new String(h, 512, size, StandardCharsets.UTF_8));
    }
}
