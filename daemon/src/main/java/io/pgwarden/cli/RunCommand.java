package io.pgwarden.cli;

import io.pgwarden.config.ConfigLoader;
import io.pgwarden.daemon.Daemon;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "run", description = "Run the daemon: the WAL push/fetch endpoint, /metrics, /health, /ready.")
final class RunCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "the YAML configuration file")
    Path config;

    @Override
    public Integer call() throws Exception {
        Daemon daemon = Daemon.start(ConfigLoader.load(config), Clock.systemUTC());
        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM/SIGINT: stop accepting, finish in-flight pushes, then exit 0.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            daemon.close();
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
        return 0;
    }
}
