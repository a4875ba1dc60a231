package io.pgwarden.runner;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/** Keeps the last lines of a tool's stderr (bounded in count and length), fed in arbitrary chunks. */
final class StderrTail {
    private static final int MAX_LINES = 20;
    private static final int MAX_LINE = 500;

    private final Deque<String> lines = new ArrayDeque<>();
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

    synchronized void accept(byte[] data, int off, int len) {
        for (int i = off; i < off + len; i++) {
            if (data[i] == '\n') flushLine();
            else if (partial.size() < MAX_LINE) partial.write(data[i]);
        }
    }

    private void flushLine() {
        String line = partial.toString(StandardCharsets.UTF_8).stripTrailing();
        partial.reset();
        if (line.isEmpty()) return;
        if (lines.size() == MAX_LINES) lines.removeFirst();
        lines.addLast(line);
    }

    synchronized List<String> lines() {
        if (partial.size() > 0) flushLine();
        return new ArrayList<>(lines);
    }
}
