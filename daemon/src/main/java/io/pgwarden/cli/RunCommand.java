package io.pgwarden.cli;

import io.pgwarden.config.ConfigLoader;
import io.pgwarden.daemon.Daemon;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import sun.misc.Signal;
import picocli.CommandLine.Option;

@Command(name = "run", description = "Run the daemon: the WAL push/fetch endpoint, /metrics, /health, /ready.")
final class RunCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

    @Option(names = "--config", required = true, description = "the YAML configuration file")
    Path config;

    @Override
    public Integer call() throws Exception {
        // Handlers first: /health answers as soon as the HTTP server is up, and a signal sent from then on (a stop or a
        // reload by systemd, an orchestrator) must find them. A TERM during start-up stops the daemon once it is up.
        // TERM/INT: stop accepting, finish in-flight pushes, cut running backups short (they leave no manifest), exit 0.
        CountDownLatch stop = StopSignals.install();
        // The JVM's default for HUP is to exit; a reload is not supported, so it is only logged.
        Signal.handle(new Signal("HUP"), s -> log.warn("SIGHUP ignored: pgwarden does not reload its configuration; check it with"
                + " 'pgwarden check-config' and restart pgwarden to apply it"));
        Daemon daemon = Daemon.start(ConfigLoader.load(config), Clock.systemUTC());
        stop.await();
        log.info("stop signal received: finishing in-flight pushes, then stopping");
        daemon.close();
        return 0;
    }
}
