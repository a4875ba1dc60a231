package io.pgwarden.runner;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A PostgreSQL tool's version line, "pg_basebackup (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", asked of the runner. */
public final class ToolVersion {
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\) (\\d+)");

    private ToolVersion() {
    }

    /** The major version in a version line: 15 above. */
    public static int major(String versionLine) {
        Matcher m = VERSION.matcher(versionLine);
        if (!m.find()) throw new PgwardenException(ErrorCode.TOOL, "cannot read a PostgreSQL version from '" + versionLine + "'");
        return Integer.parseInt(m.group(1));
    }

    /** Version lines by {@link ToolRunner#toolIdentity}: a sidecar for each backup's version check cost half a second. */
    private static final Map<String, String> KNOWN = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * {@code tool --version} as the runner runs the tool for {@code major}, asked once per binary (image); a failed run
     * is a TOOL error with its output.
     */
    public static String of(ToolRunner runner, String tool, int major, String job, String runId) {
        java.util.Optional<String> identity = runner.toolIdentity(tool, major);
        String known = identity.map(KNOWN::get).orElse(null);
        if (known != null) return known;
        String version = ask(runner, tool, major, job, runId);
        identity.ifPresent(id -> KNOWN.put(id, version));
        return version;
    }

    private static String ask(ToolRunner runner, String tool, int major, String job, String runId) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ToolResult result = runner.run(new ToolInvocation(tool, List.of("--version"), major, Map.of(), Duration.ofMinutes(2), job,
                runId + "-version"), stdout -> stdout.transferTo(out));
        if (!result.succeeded()) throw new PgwardenException(ErrorCode.TOOL, result.failureSummary(tool + " --version"));
        return out.toString(StandardCharsets.UTF_8).trim();
    }
}
