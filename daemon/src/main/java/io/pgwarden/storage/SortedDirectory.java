package io.pgwarden.storage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.PriorityQueue;

/**
 * A directory's visible entries in name order, holding at most {@code window} of them at a time: each pass reads the
 * whole directory and keeps the smallest names after the last one handed out. Why: a WAL timeline's directory holds a
 * file per segment ever archived (a million and more), and a sorted listing must not hold them all in memory. Most
 * directories fit one pass. Like an S3 listing, entries added or removed during the iteration may or may not appear.
 */
final class SortedDirectory implements Iterator<Path> {
    /**
     * About 8 MB of names; a directory of a million objects (and their .meta files) takes 10 passes of about 0.7 s
     * each here (at 50,000 paths, 20 passes made a listing of a million objects 1.2x slower than a full sort).
     */
    static final int WINDOW = 100_000;

    private final Path dir;
    private final int window;
    private final String floor;
    private Iterator<String> batch = Collections.emptyIterator();
    private String last;
    private boolean exhausted;

    SortedDirectory(Path dir, int window) {
        this(dir, window, null);
    }

    /**
     * @param floor skip the names before it (null: none) but those that begin it or are it: a subdirectory "a" holds
     *              keys "a/..." that sort after a floor of "a.x" (the caller drops a file equal to its floor)
     */
    SortedDirectory(Path dir, int window, String floor) {
        this.dir = dir;
        this.window = window;
        this.floor = floor;
    }

    @Override
    public boolean hasNext() {
        while (!batch.hasNext() && !exhausted) nextBatch();
        return batch.hasNext();
    }

    @Override
    public Path next() {
        if (!hasNext()) throw new NoSuchElementException();
        return dir.resolve(batch.next());
    }

    private void nextBatch() {
        // Names, not paths: a third of the memory. They sort as their paths do (as UTF-8 bytes) short of characters
        // beyond the BMP, which no WAL name and no key pgwarden writes has.
        PriorityQueue<String> smallest = new PriorityQueue<>(Comparator.reverseOrder()); // its head: the largest kept
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                String name = p.getFileName().toString();
                if (name.startsWith(".") || last != null && name.compareTo(last) <= 0) continue;
                if (floor != null && name.compareTo(floor) <= 0 && !floor.startsWith(name)) continue;
                if (smallest.size() < window) {
                    smallest.add(name);
                } else if (name.compareTo(smallest.peek()) < 0) {
                    smallest.poll();
                    smallest.add(name);
                }
            }
        } catch (NoSuchFileException e) {
            // removed meanwhile: nothing more in it
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        exhausted = smallest.size() < window;
        List<String> sorted = new ArrayList<>(smallest);
        sorted.sort(null);
        if (!sorted.isEmpty()) last = sorted.getLast();
        batch = sorted.iterator();
    }
}
