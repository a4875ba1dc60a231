package io.pgwarden.runner;

import java.time.Duration;
import java.util.List;

/** How a tool run ended. Success means exit code 0 and no timeout. */
public record ToolResult(int exitCode, boolean timedOut, List<String> stderrTail, Duration elapsed) {
    public ToolResult {
        stderrTail = List.copyOf(stderrTail);
    }

    public boolean succeeded() {
        return exitCode == 0 && !timedOut;
    }

    /** e.g. "pg_dump exited with code 1: pg_dump: error: connection ... password authentication failed" */
    public String failureSummary(String tool) {
        String how = timedOut ? tool + " was killed after its timeout of " + elapsed.toSeconds() + "s"
                : tool + " exited with code " + exitCode;
        return stderrTail.isEmpty() ? how : how + ": " + String.join(" | ", stderrTail);
    }
}
