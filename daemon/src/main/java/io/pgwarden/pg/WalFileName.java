package io.pgwarden.pg;

import io.pgwarden.error.PgwardenException;
import java.util.regex.Pattern;

/**
 * A file name PostgreSQL hands to archive_command / restore_command. Only these four shapes exist;
 * anything else is refused before it reaches storage.
 */
public record WalFileName(String name, Kind kind, int timeline) {

    public enum Kind { SEGMENT, PARTIAL, BACKUP_HISTORY, TIMELINE_HISTORY }

    private static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static final Pattern PARTIAL = Pattern.compile("[0-9A-F]{24}\\.partial");
    private static final Pattern BACKUP = Pattern.compile("[0-9A-F]{24}\\.[0-9A-F]{8}\\.backup");
    private static final Pattern HISTORY = Pattern.compile("[0-9A-F]{8}\\.history");

    public static WalFileName parse(String name) {
        Kind kind;
        if (SEGMENT.matcher(name).matches()) kind = Kind.SEGMENT;
        else if (PARTIAL.matcher(name).matches()) kind = Kind.PARTIAL;
        else if (BACKUP.matcher(name).matches()) kind = Kind.BACKUP_HISTORY;
        else if (HISTORY.matcher(name).matches()) kind = Kind.TIMELINE_HISTORY;
        else throw PgwardenException.badRequest("invalid WAL file name '" + printable(name)
                + "': expected a segment, .partial, .backup or .history file name");
        int timeline = Integer.parseUnsignedInt(name.substring(0, 8), 16);
        if (timeline == 0) throw PgwardenException.badRequest("invalid WAL file name '" + name + "': timeline 0 does not exist");
        return new WalFileName(name, kind, timeline);
    }

    /** The history file of a timeline, e.g. 00000002.history. */
    public static WalFileName history(int timeline) {
        return parse("%08X.history".formatted(timeline));
    }

    /** Segments and .partial files are whole segment files and carry a long page header. */
    public boolean isSegmentFile() {
        return kind == Kind.SEGMENT || kind == Kind.PARTIAL;
    }

    /** The segment number of a segment or .partial file, given the cluster's segment size. */
    public long segmentNumber(long segmentSize) {
        long log = Long.parseLong(name.substring(8, 16), 16);
        long seg = Long.parseLong(name.substring(16, 24), 16);
        return log * (0x1_0000_0000L / segmentSize) + seg;
    }

    public String timelineHex() {
        return "%08X".formatted(timeline);
    }

    private static String printable(String s) {
        String cut = s.length() > 80 ? s.substring(0, 80) + "..." : s;
        return cut.replaceAll("[^\\x20-\\x7E]", "?");
    }
}
