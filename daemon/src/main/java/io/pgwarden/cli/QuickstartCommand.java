package io.pgwarden.cli;

import ch.qos.logback.classic.Level;
import io.pgwarden.quickstart.Quickstart;
import io.pgwarden.quickstart.QuickstartSummary;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "quickstart", description = {"Try pgwarden on this machine: a scratch PostgreSQL cluster archiving WAL to a daemon",
        "with a filesystem repository, a base backup, a dump, and a point-in-time test restore; prints a summary and",
        "runs until Ctrl-C, then removes everything it created. Needs PostgreSQL's server binaries and curl, or Docker",
        "and a PostgreSQL image; no network when the image is present."})
final class QuickstartCommand implements Callable<Integer> {
    @Option(names = "--dir", description = "an empty or new directory for everything (default: a new one under $TMPDIR)")
    Path dir;

    @Option(names = "--keep", description = "leave the directory (cluster, repository, config) in place on exit")
    boolean keep;

    @Option(names = "--pg-bin", description = "PostgreSQL's bin directory (default: the newest /usr/lib/postgresql/*/bin, then the PATH)")
    Path pgBin;

    @Option(names = "--docker", description = "run PostgreSQL in containers (the default only where no server binaries are found)")
    boolean docker;

    @Option(names = "--image", description = "with Docker: a PostgreSQL image (default: postgres:15; pulled only when absent)")
    String image;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        // The steps print their own progress; the daemon's routine INFO lines would drown it (PGWARDEN_LOG_LEVEL overrides).
        if (System.getenv("PGWARDEN_LOG_LEVEL") == null) {
            ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(Level.WARN);
        }
        PrintWriter out = spec.commandLine().getOut();
        CountDownLatch stop = StopSignals.install();
        try (Quickstart quickstart = new Quickstart(new Quickstart.Options(Optional.ofNullable(dir), keep, Optional.ofNullable(pgBin), docker,
                Optional.ofNullable(image)), out)) {
            Quickstart.Result result = quickstart.run(() -> stop.getCount() == 0);
            QuickstartSummary.print(out, result);
            out.println();
            out.println("pgwarden is running. Press Ctrl-C to stop" + (keep ? "; " + result.dir() + " stays." : "; that removes " + result.dir() + "."));
            out.flush();
            stop.await();
            out.println("stopping: PostgreSQL, then pgwarden" + (keep ? "" : ", then removing " + result.dir()));
            out.flush();
        }
        out.println("quickstart stopped");
        out.flush();
        return 0;
    }
}
