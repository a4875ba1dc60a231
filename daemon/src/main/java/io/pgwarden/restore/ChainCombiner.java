package io.pgwarden.restore;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.runner.ToolVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Joins an incremental chain unpacked into directories on this host into one data directory: pg_combinebackup of
 * the backups' major version, run by the cluster's runner (the host's binary, or a sidecar that sees the directories
 * at the same path).
 */
final class ChainCombiner {
    private static final Duration TIMEOUT = Duration.ofHours(12);

    private final ToolRunner runner;
    private final String runId;

    ChainCombiner(ToolRunner runner, String runId) {
        this.runner = runner;
        this.runId = runId;
    }

    /** Before a byte is downloaded: the runner has pg_combinebackup of the chain's major version. */
    void check(RestorePlan plan) {
        int major = plan.backup().pgVersionNum() / 10000;
        String version;
        try {
            version = ToolVersion.of(runner, "pg_combinebackup", major, "combine", runId);
            if (ToolVersion.major(version) == major) return;
        } catch (PgwardenException e) {
            throw refused(plan, e.getMessage());
        }
        throw refused(plan, "'" + version + "' (" + runner.describe(major) + ") is not PostgreSQL " + major + "'s");
    }

    /** pg_combinebackup -o {@code output} of {@code members} (full backup first); {@code work} holds them all. */
    void combine(RestorePlan plan, Path work, List<Path> members, Path output) {
        int major = plan.backup().pgVersionNum() / 10000;
        List<String> args = new ArrayList<>();
        members.forEach(m -> args.add(m.toString()));
        args.addAll(List.of("-o", output.toString()));
        ToolResult result = runner.run(new ToolInvocation("pg_combinebackup", args, major, Map.of(), TIMEOUT, "combine", runId,
                ToolInvocation.Container.inHostDir(work, owner(work))), stdout -> stdout.transferTo(java.io.OutputStream.nullOutputStream()));
        if (!result.succeeded()) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot combine base backups " + plan.chainDescription() + " (" + runner.describe(major) + "): "
                    + result.failureSummary("pg_combinebackup"));
        }
    }

    private static String owner(Path dir) {
        try {
            return Files.getAttribute(dir, "unix:uid") + ":" + Files.getAttribute(dir, "unix:gid");
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.INTERNAL, "cannot read the owner of '" + dir + "': " + e.getMessage(), e);
        }
    }

    private static PgwardenException refused(RestorePlan plan, String why) {
        return new PgwardenException(ErrorCode.TOOL, "base backup " + plan.backup().backupId() + " is incremental: restoring it combines "
                + plan.chainDescription() + " with pg_combinebackup, which is not usable here: " + why + "; HINT: install PostgreSQL "
                + plan.backup().pgVersionNum() / 10000 + "'s server tools (runner.binDir), or restore the full backup with --backup "
                + plan.members().getFirst().backupId() + " (recovery then replays the WAL since it)");
    }
}
