package io.pgwarden.cli;

import io.pgwarden.config.ConfigException;
import io.pgwarden.config.ConfigLoader;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "check-config", description = "Validate a configuration file: prints OK or every problem with its key path (exit 2).")
final class CheckConfigCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "the YAML configuration file")
    Path config;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        var out = spec.commandLine().getOut();
        try {
            // The keyset's content is checked here too: a keyset pgwarden cannot use is a config error.
            var loaded = ConfigLoader.load(config);
            io.pgwarden.repository.Encoding.of(loaded.repository());
            io.pgwarden.server.HttpServer.checkTls(loaded.server());
            out.println("OK");
            return 0;
        } catch (ConfigException e) {
            e.problems().forEach(out::println);
            return e.code().exitCode();
        } catch (io.pgwarden.error.PgwardenException e) {
            out.println(e.getMessage());
            return e.code().exitCode();
        } finally {
            out.flush();
        }
    }
}
