package io.pgwarden.server;

import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.Lsn;
import io.pgwarden.restore.RestoreJobs;
import io.pgwarden.restore.RestoreTarget;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;

/**
 * The JSON body of {@code POST /v1/clusters/{c}/restores}, the same options as the command line:
 * exactly one of targetTime, targetLsn, targetName, latest; targetDir; optional backup, targetTimeline, targetAction.
 */
record RestoreRequestBody(String targetTime, String targetLsn, String targetName, Boolean latest, String targetDir, String backup,
                          String targetTimeline, String targetAction) {
    RestoreJobs.Request toRequest() {
        long targets = Stream.of(targetTime, targetLsn, targetName, Boolean.TRUE.equals(latest) ? "latest" : null).filter(v -> v != null).count();
        if (targets != 1) throw PgwardenException.badRequest("give exactly one of targetTime, targetLsn, targetName, latest: true");
        if (targetDir == null || targetDir.isBlank()) throw PgwardenException.badRequest("targetDir is required");
        Path dir = Path.of(targetDir);
        if (!dir.isAbsolute()) throw PgwardenException.badRequest("targetDir must be an absolute path, not '" + targetDir + "'");
        String action = targetAction == null ? "promote" : targetAction;
        if (!List.of("promote", "pause", "shutdown").contains(action)) {
            throw PgwardenException.badRequest("targetAction must be promote, pause or shutdown, not '" + action + "'");
        }
        return new RestoreJobs.Request(target(), dir, Optional.ofNullable(backup), timeline(), action);
    }

    private RestoreTarget target() {
        try {
            if (targetTime != null) return new RestoreTarget.Time(RestoreTarget.parseTime(targetTime, "targetTime"));
            if (targetLsn != null) return new RestoreTarget.Position(Lsn.parse(targetLsn));
        } catch (IllegalArgumentException e) {
            throw PgwardenException.badRequest("targetLsn: " + e.getMessage());
        } catch (PgwardenException e) {
            throw PgwardenException.badRequest(e.getMessage());
        }
        if (targetName != null) return RestoreTarget.parseName(targetName, "targetName");
        return new RestoreTarget.Latest();
    }

    private OptionalInt timeline() {
        if (targetTimeline == null || targetTimeline.equals("latest")) return OptionalInt.empty();
        try {
            return OptionalInt.of(Integer.parseInt(targetTimeline));
        } catch (NumberFormatException e) {
            throw PgwardenException.badRequest("targetTimeline must be 'latest' or a number, not '" + targetTimeline + "'");
        }
    }
}
