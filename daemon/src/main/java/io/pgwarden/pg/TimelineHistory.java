package io.pgwarden.pg;

import java.util.ArrayList;
import java.util.List;

/**
 * A timeline's history file ({@code 00000003.history}): one line per ancestor, "parentTLI switchpoint reason",
 * oldest first. Timeline N's path is its ancestors, each up to its switch point, then N itself.
 */
public record TimelineHistory(int timeline, List<Switch> ancestors) {
    /** The ancestor {@code timeline} was followed up to (not including) {@code switchLsn}. */
    public record Switch(int timeline, long switchLsn) {
    }

    public TimelineHistory {
        ancestors = List.copyOf(ancestors);
    }

    public static TimelineHistory parse(int timeline, String text, String source) {
        List<Switch> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) continue;
            String[] f = l.split("\\s+", 3);
            try {
                out.add(new Switch(Integer.parseInt(f[0]), Lsn.parse(f[1])));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(source + ": unreadable line '" + l + "'");
            }
        }
        return new TimelineHistory(timeline, out);
    }

    /** The first timeline, which has no history file. */
    public static TimelineHistory first() {
        return new TimelineHistory(1, List.of());
    }

    /** Whether timeline {@code tli} is on this path, and up to where (exclusive); Long.MAX_VALUE for the last. */
    public long endOf(int tli) {
        if (tli == timeline) return Long.MAX_VALUE;
        for (Switch s : ancestors) if (s.timeline() == tli) return s.switchLsn();
        return -1;
    }

    /** The timeline that holds the WAL segment starting at {@code segmentStart}: the first whose end lies beyond it. */
    public int timelineOfSegment(long segmentStart, long segmentSize) {
        for (Switch s : ancestors) {
            // The segment holding the switch point belongs to the new timeline (it is copied there at the switch).
            if (segmentStart + segmentSize <= s.switchLsn()) return s.timeline();
        }
        return timeline;
    }
}
