package io.pgwarden.restore;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.Lsn;
import java.io.IOException;
import java.nio.file.Files;
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
public record RecoverySettings(String restoreCommand, RestoreTarget target, String action, OptionalInt timeline, String comment) {
    /** PostgreSQL's own timestamptz form (its recovery_target_time check refuses ISO-8601's 'T' ... 'Z' spelling). */
    private static final java.time.format.DateTimeFormatter PG_TIME =
            java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSSx").withZone(java.time.ZoneOffset.UTC);

    public List<String> lines() {
        List<String> lines = new ArrayList<>();
        lines.add("# " + comment);
        lines.add("restore_command = " + quote(restoreCommand));
        switch (target) {
            case RestoreTarget.Time t -> lines.add("recovery_target_time = " + quote(PG_TIME.format(t.at())));
            case RestoreTarget.Position p -> lines.add("recovery_target_lsn = " + quote(Lsn.format(p.lsn())));
            case RestoreTarget.Name n -> lines.add("recovery_target_name = " + quote(n.restorePoint()));
            case RestoreTarget.Latest l -> { }
        }
        if (!(target instanceof RestoreTarget.Latest)) lines.add("recovery_target_action = " + quote(action));
        lines.add("recovery_target_timeline = " + quote(timeline.isPresent() ? Integer.toString(timeline.getAsInt()) : "latest"));
        return lines;
    }

    void writeTo(Path dataDir) {
        try {
            Files.writeString(dataDir.resolve("postgresql.auto.conf"), "\n" + String.join("\n", lines()) + "\n",
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            Files.writeString(dataDir.resolve("recovery.signal"), "");
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.INTERNAL, "cannot write the recovery settings into '" + dataDir + "': " + e.getMessage(), e);
        }
    }

    /** A postgresql.conf string literal: single quotes doubled. */
    static String quote(String value) {
        return "'" + value.replace("'", "''") + "'";
    }
}
