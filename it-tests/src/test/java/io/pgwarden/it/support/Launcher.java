package io.pgwarden.it.support;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs the built distribution's bin/pgwarden, exactly as an operator or PostgreSQL would. */
public final class Launcher {
    private Launcher() {
    }

    public static Path home() {
        Path home = Path.of(System.getProperty("pgwarden.home", "../daemon/target/pgwarden")).toAbsolutePath().normalize();
        if (!Files.isExecutable(home.resolve("bin/pgwarden"))) {
            throw new IllegalStateException("no distribution at " + home + ": build it with ./mvnw package first");
        }
        return home;
    }

    public static Path executable() {
        return home().resolve("bin/pgwarden");
    }

    /** Starts bin/pgwarden in the background (e.g. the daemon), its output appended to {@code log}. */
    public static Process start(Path log, String... args) throws java.io.IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(executable().toString());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    public static Processes.Result run(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(executable().toString());
        cmd.addAll(List.of(args));
        return Processes.run(cmd, null);
    }
}
