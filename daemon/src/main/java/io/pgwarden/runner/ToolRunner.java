package io.pgwarden.runner;

import java.util.Optional;

/**
 * Runs PostgreSQL client tools: in a sidecar container ({@link DockerToolRunner}) or as a local process
 * ({@link ProcessToolRunner}). stdout streams to the consumer; stderr's last lines are kept for the error
 * message; the timeout kills the tool. Whatever happens, nothing the run started is left behind.
 */
public sealed interface ToolRunner extends AutoCloseable permits DockerToolRunner, ProcessToolRunner {

    default ToolResult run(ToolInvocation invocation, StdoutConsumer stdout) {
        return run(invocation, null, stdout);
    }

    /** @param stdin fed to the tool, then closed (e.g. a dump for pg_restore); null: no input */
    ToolResult run(ToolInvocation invocation, java.io.InputStream stdin, StdoutConsumer stdout);

    /**
     * A fresh directory for a tool to write files into while this process reads them, with {@link
     * ToolInvocation.Container#writingInto}; empty when this runner has none to give (sidecars without
     * runner.streamDir). The caller closes it.
     * @param localParent where a local process's directory is made (the daemon's spool)
     */
    Optional<OutputDir> outputDir(java.nio.file.Path localParent, String prefix);

    /**
     * What identifies the binary {@code tool} would run as (an image's id, a file's path, size and time): the same
     * identity, the same version line, so a version is asked once. Empty: unknown, asked every time.
     */
    default Optional<String> toolIdentity(String tool, int pgMajor) {
        return Optional.empty();
    }

    /** Removes what a crash of this instance left behind (sidecars); the count removed. A process runner leaves none. */
    default int removeOrphans() {
        return 0;
    }

    /**
     * Removes what one run left behind after its daemon died (another daemon sharing the schedules found it
     * interrupted); the count removed. A process runner cannot reach another daemon's processes: none.
     */
    default int removeRun(String runId) {
        return 0;
    }

    /** e.g. "docker image postgres:15 (network host)" or "process /usr/lib/postgresql/15/bin". */
    String describe(int pgMajor);

    @Override
    void close();
}
