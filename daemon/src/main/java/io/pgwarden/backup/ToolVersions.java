package io.pgwarden.backup;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.ServerInfo;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.runner.ToolVersion;

/** The client tools a backup runs with, checked against the server they read. */
final class ToolVersions {
    private ToolVersions() {
    }

    /** The tool's own version line; a tool older than the server's major version is refused (it cannot read it). */
    static String checked(ToolRunner runner, String tool, ServerInfo server, String job, String runId) {
        String version = ToolVersion.of(runner, tool, server.major(), job, runId);
        if (ToolVersion.major(version) < server.major()) {
            throw new PgwardenException(ErrorCode.TOOL, "'" + version + "' (" + runner.describe(server.major()) + ") is older than the server ("
                    + server.major() + "); HINT: use PostgreSQL " + server.major() + " client tools");
        }
        return version;
    }
}
