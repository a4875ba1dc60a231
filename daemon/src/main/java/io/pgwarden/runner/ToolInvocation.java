package io.pgwarden.runner;

import io.pgwarden.config.Secret;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One run of a PostgreSQL client tool.
 * @param tool              the program, e.g. {@code pg_dump} (looked up in the runner's bin dir or image)
 * @param pgMajor           the server's major version: picks the bin dir or image with matching tools
 * @param secretEnvironment environment for the tool (PGPASSWORD, ...): never on a command line, never logged
 * @param job               what this run is for (labels and logs), e.g. {@code base-backup}
 * @param runId             unique per run (labels and logs)
 */
public record ToolInvocation(String tool, List<String> arguments, int pgMajor, Map<String, Secret> secretEnvironment,
                             Duration timeout, String job, String runId) {
    public ToolInvocation {
        arguments = List.copyOf(arguments);
        secretEnvironment = Map.copyOf(secretEnvironment);
    }

    /** The command as it may be shown in logs and errors (the environment is not part of it). */
    public String commandLine() {
        return tool + (arguments.isEmpty() ? "" : " " + String.join(" ", arguments));
    }
}
