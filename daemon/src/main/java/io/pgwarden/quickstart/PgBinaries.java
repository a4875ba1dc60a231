package io.pgwarden.quickstart;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** The PostgreSQL server binaries the quickstart runs: given, or the newest major version installed. */
record PgBinaries(Path binDir, String version) {
    static final List<String> NEEDED = List.of("initdb", "pg_ctl", "postgres", "psql", "pg_basebackup", "pg_dump", "pg_dumpall", "pg_restore");

    /** @param explicit --pg-bin; otherwise /usr/lib/postgresql/{newest}/bin (Debian), then the PATH */
    public static PgBinaries locate(Optional<Path> explicit) {
        List<Path> candidates = new ArrayList<>();
        explicit.ifPresentOrElse(candidates::add, () -> {
            candidates.addAll(debianBinDirs());
            for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) if (!dir.isEmpty()) candidates.add(Path.of(dir));
        });
        for (Path dir : candidates) {
            if (NEEDED.stream().allMatch(tool -> Files.isExecutable(dir.resolve(tool)))) return new PgBinaries(dir, version(dir));
        }
        String where = explicit.map(p -> "'" + p + "' lacks one of " + NEEDED)
                .orElse("looked in /usr/lib/postgresql/*/bin and the PATH for " + NEEDED);
        throw new PgwardenException(ErrorCode.USAGE, "no PostgreSQL server binaries found (" + where + "); install the server package"
                + " (Debian: apt-get install postgresql-15) or pass --pg-bin DIR");
    }

    public int major() {
        return Integer.parseInt(version.replaceFirst("^(\\d+).*", "$1"));
    }

    private static List<Path> debianBinDirs() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) return List.of();
        try (Stream<Path> majors = Files.list(root)) {
            return majors.filter(p -> p.getFileName().toString().matches("\\d+"))
                    .sorted(Comparator.comparingInt((Path p) -> Integer.parseInt(p.getFileName().toString())).reversed())
                    .map(p -> p.resolve("bin")).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** "15.14" from "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)". */
    private static String version(Path dir) {
        try {
            Process p = io.pgwarden.runner.ChildEnvironment.minimal(new ProcessBuilder(dir.resolve("postgres").toString(), "--version")).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            p.waitFor();
            var m = java.util.regex.Pattern.compile("\\(PostgreSQL\\) (\\d+(\\.\\d+)?)").matcher(out);
            if (m.find()) return m.group(1);
            throw new PgwardenException(ErrorCode.TOOL, dir.resolve("postgres") + " --version printed '" + out + "', not a PostgreSQL version");
        } catch (IOException e) {
            throw new PgwardenException(ErrorCode.TOOL, "cannot run " + dir.resolve("postgres") + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PgwardenException(ErrorCode.TOOL, "interrupted", e);
        }
    }
}
