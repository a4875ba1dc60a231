package io.pgwarden.backup;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.ServerInfo;
import io.pgwarden.runner.ToolInvocation;
import io.pgwarden.runner.ToolResult;
import io.pgwarden.runner.ToolRunner;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads "pg_basebackup (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" as major version 15. */
final class ToolVersions {
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\) (\\d+)");

    private ToolVersions() {
    }

    static int major(String versionOutput) {
        Matcher m = VERSION.matcher(versionOutput);
        if (!m.find()) throw new IllegalArgumentException("cannot read a PostgreSQL version from '" + versionOutput + "'");
        return Integer.parseInt(m.group(1));
    }

    /** The tool's own version line; a tool older than the server's major version is refused (it cannot read it). */
    static String checked(ToolRunner runner, String tool, ServerInfo server, String job, String runId) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ToolResult result = runner.run(new ToolInvocation(tool, List.of("--version"), server.major(), Map.of(),
                Duration.ofMinutes(2), job, runId + "-version"), stdout -> stdout.transferTo(out));
        String version = out.toString(StandardCharsets.UTF_8).trim();
        if (!result.succeeded()) throw new PgwardenException(ErrorCode.TOOL, result.failureSummary(tool + " --version"));
        int toolMajor = major(version);
        if (toolMajor < server.major()) {
            throw new PgwardenException(ErrorCode.TOOL, "'" + version + "' (" + runner.describe(server.major()) + ") is older than the server ("
                    + server.major() + "); HINT: use PostgreSQL " + server.major() + " client tools");
        }
        return version;
    }
}
