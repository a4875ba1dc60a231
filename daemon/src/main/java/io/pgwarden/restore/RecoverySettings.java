package io.pgwarden.restore;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.Lsn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * What PostgreSQL (12+) needs to recover: recovery.signal, and settings appended to postgresql.auto.conf
 * (the last setting of a name wins there; recovery.conf no longer exists).
 * @param timeline empty: 'latest'
 * @param action   promote, pause or shutdown once the target is reached
 */
record RecoverySettings(String restoreCommand, RestoreTarget target, String action, OptionalInt timeline, String comment) {
    /** PostgreSQL's own timestamptz form (its recovery_target_time check refuses ISO-8601's 'T' ... 'Z' spelling). */
    private static final java.time.format.DateTimeFormatter PG_TIME =
            java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSSx").withZone(java.time.ZoneOffset.UTC);

    public List<String> lines() {
        List<String> lines = new ArrayList<>();
        lines.add("# " + comment);
        values().forEach((name, value) -> lines.add(name + " = " + quote(value)));
        return lines;
    }

    /** The settings by name, in the order they are written (also usable as {@code postgres -c name=value}). */
    public java.util.Map<String, String> values() {
        java.util.Map<String, String> values = new java.util.LinkedHashMap<>();
        values.put("restore_command", restoreCommand);
        switch (target) {
            case RestoreTarget.Time t -> values.put("recovery_target_time", PG_TIME.format(t.at()));
            case RestoreTarget.Position p -> values.put("recovery_target_lsn", Lsn.format(p.lsn()));
            case RestoreTarget.Name n -> values.put("recovery_target_name", n.restorePoint());
            case RestoreTarget.Latest l -> { }
        }
        if (!(target instanceof RestoreTarget.Latest)) values.put("recovery_target_action", action);
        values.put("recovery_target_timeline", timeline.isPresent() ? Integer.toString(timeline.getAsInt()) : "latest");
        return values;
    }

    /** Never through a link: the restored tree came from the repository (the unpacker refuses links; this is a second wall). */
    void writeTo(Path dataDir) {
        try {
            Files.writeString(dataDir.resolve("postgresql.auto.conf"), "\n" + String.join("\n", lines()) + "\n",
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND, LinkOption.NOFOLLOW_LINKS);
            Files.writeString(dataDir.resolve("recovery.signal"), "", StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.INTERNAL, "cannot write the recovery settings into '" + dataDir + "': " + e.getMessage(), e);
        }
    }

    /**
     * A postgresql.conf string literal by PostgreSQL's own lexer rules: a backslash starts an escape (so it is
     * doubled), a quote is doubled, and a line break would end the setting, so control characters are refused.
     */
    static String quote(String value) {
        if (value.codePoints().anyMatch(Character::isISOControl)) {
            throw new PgwardenException(ErrorCode.USAGE, "a recovery setting must not contain control characters: '"
                    + value.replaceAll("\\p{Cntrl}", "?") + "'");
        }
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'";
    }
}
