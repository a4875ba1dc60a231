package io.pgwarden.pg;

import io.pgwarden.error.PgwardenException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.OptionalLong;

/**
 * Checks the small text files PostgreSQL archives besides segments before they are stored: a timeline history file
 * decides which timeline every "latest" restore follows, and a backup history file where a base backup ends, so
 * one that PostgreSQL could not have written is refused with 400 rather than kept forever (archived files are never
 * overwritten).
 */
public final class HistoryFiles {
    /** Far above any real one (a history file grows by one short line per promotion; a .backup file is ~300 bytes). */
    public static final int MAX_BYTES = 1 << 20;

    private HistoryFiles() {
    }

    /**
     * {@code NNNNNNNN.history}: text lines "parentTLI switchLSN reason", at least one, ancestors in ascending timeline
     * order, all below N, switch points never going back. Returns the parsed history.
     */
    public static TimelineHistory checkTimelineHistory(WalFileName name, byte[] content) {
        String text = text(name, content);
        if (name.timeline() == 1) throw bad(name, "timeline 1 has no history file");
        TimelineHistory history;
        try {
            history = TimelineHistory.parse(name.timeline(), text, name.name());
        } catch (IllegalArgumentException e) {
            throw bad(name, e.getMessage());
        }
        if (history.ancestors().isEmpty()) throw bad(name, "it names no parent timeline");
        long previousTli = 0;
        long previousLsn = 0;
        for (TimelineHistory.Switch s : history.ancestors()) {
            long tli = Integer.toUnsignedLong(s.timeline());
            if (tli <= previousTli || tli >= Integer.toUnsignedLong(name.timeline())) {
                throw bad(name, "parent timeline " + tli + " is out of order (each must be above the one before and below "
                        + Integer.toUnsignedLong(name.timeline()) + ")");
            }
            if (Long.compareUnsigned(s.switchLsn(), previousLsn) < 0) throw bad(name, "switch point " + Lsn.format(s.switchLsn()) + " goes back");
            previousTli = tli;
            previousLsn = s.switchLsn();
        }
        return history;
    }

    /**
     * {@code TTTTTTTTXXXXXXXXYYYYYYYY.OOOOOOOO.backup}: a backup label with a stop location whose start is the segment
     * and offset the name gives (the offset is checked when the segment size is known).
     */
    public static void checkBackupHistory(WalFileName name, byte[] content, OptionalLong segmentSize) {
        String text = text(name, content);
        try {
            BackupLabel label = BackupLabel.parse(text, name.name());
            String startFile = label.startWalFile();
            if (!name.name().startsWith(startFile + ".")) throw bad(name, "its START WAL LOCATION is in '" + startFile + "', not in the file it names");
            if (label.startTimeline() != name.timeline()) throw bad(name, "its START TIMELINE " + label.startTimeline() + " is not the name's");
            if (label.stopLsn().isEmpty()) throw bad(name, "it has no STOP WAL LOCATION");
            if (Long.compareUnsigned(label.stopLsn().get(), label.startLsn()) < 0) throw bad(name, "it stops before it starts");
            if (segmentSize.isPresent() && !label.historyFileName(segmentSize.getAsLong()).equals(name.name())) {
                throw bad(name, "its START WAL LOCATION " + Lsn.format(label.startLsn()) + " is not at the offset the name gives");
            }
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
            throw bad(name, e.getMessage());
        }
    }

    private static String text(WalFileName name, byte[] content) {
        if (content.length > MAX_BYTES) throw bad(name, "it is " + content.length + " bytes, more than " + MAX_BYTES);
        try {
            String text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(content)).toString();
            if (text.chars().anyMatch(c -> c < 0x20 && c != '\n' && c != '\t' && c != '\r')) throw bad(name, "it is not text");
            return text;
        } catch (CharacterCodingException e) {
            throw bad(name, "it is not UTF-8 text");
        }
    }

    private static PgwardenException bad(WalFileName name, String why) {
        return PgwardenException.badRequest("'" + name.name() + "' is not a history file PostgreSQL could have written: " + why
                + "; nothing was stored");
    }
}
