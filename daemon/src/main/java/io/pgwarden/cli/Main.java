package io.pgwarden.cli;

import io.pgwarden.config.ConfigException;
import io.pgwarden.error.PgwardenException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point: parse, run one command, map its exception to an exit code (see ErrorCode). */
@Command(name = "pgwarden", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "PostgreSQL backup and WAL archiving daemon.",
        subcommands = {RunCommand.class, QuickstartCommand.class, CheckConfigCommand.class, WalFetchCommand.class, BackupCommand.class, ListCommand.class, RestoreCommand.class, RestoreDumpCommand.class, PruneCommand.class, VerifyCommand.class, KeysetCommand.class, CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    public static int execute(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler(Main::handle);
        return cli.execute(args);
    }

    private static int handle(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        if (e instanceof ConfigException c) {
            c.problems().forEach(p -> err.println("pgwarden: config error: " + p));
            err.flush();
            return c.code().exitCode();
        }
        if (e instanceof PgwardenException p) {
            err.println("pgwarden: " + p.getMessage());
            // The same fields the HTTP API sends as Pgwarden-* headers; a bare usage error has none.
            if (!p.context().fields().isEmpty()) err.println("pgwarden: (" + io.pgwarden.error.ErrorReport.fields(p) + ")");
            err.flush();
            // The launcher gives wal-fetch its own "not found" status: a JVM that cannot start exits 1 too.
            return p.code() == io.pgwarden.error.ErrorCode.NOT_FOUND ? Integer.getInteger("pgwarden.notFoundExit", 1) : p.code().exitCode();
        }
        err.println("pgwarden: unexpected error: " + e);
        e.printStackTrace(err);
        err.flush();
        return 3;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"pgwarden " + (v == null ? "dev" : v)};
        }
    }
}
