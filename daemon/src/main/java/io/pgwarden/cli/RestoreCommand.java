package io.pgwarden.cli;

import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.Lsn;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.repository.RunIds;
import io.pgwarden.restore.DirectorySite;
import io.pgwarden.restore.PitrRestore;
import io.pgwarden.restore.Progress;
import io.pgwarden.restore.RestorePlan;
import io.pgwarden.restore.RestoreSite;
import io.pgwarden.restore.RestoreTarget;
import io.pgwarden.restore.RestoredServer;
import io.pgwarden.runner.ToolRunner;
import io.pgwarden.runner.ToolRunners;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.repository.RepositoryMarker;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "restore", description = {"Restore a cluster to a point in time into an empty directory, from the repository alone.",
        "Plans first (backup, timeline, every WAL file present), then unpacks the base backup and writes recovery.signal",
        "and the recovery settings; PostgreSQL fetches the WAL through restore_command when started."})
final class RestoreCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Target target;

    static final class Target {
        @Option(names = "--target-time", description = "ISO-8601 with a zone, e.g. 2026-11-25T03:15:00Z or 2026-11-25 04:15:00+01:00")
        String time;

        @Option(names = "--target-lsn", description = "e.g. 0/3000028")
        String lsn;

        @Option(names = "--target-name", description = "a restore point made with pg_create_restore_point()")
        String name;

        @Option(names = "--latest", description = "replay all archived WAL")
        boolean latest;
    }

    @Option(names = "--target-dir", description = "the new data directory: empty or absent")
    Path targetDir;

    @Option(names = "--backup", description = "restore from this base backup instead of the newest suitable one")
    String backup;

    @Option(names = "--target-timeline", defaultValue = "latest", description = "latest (follow .history files) or a number")
    String timeline;

    @Option(names = "--target-action", defaultValue = "promote", description = "promote, pause or shutdown at the target")
    String action;

    @Option(names = "--restore-command", defaultValue = "standalone",
            description = "standalone (pgwarden wal-fetch, no daemon needed) or daemon (curl to server.listen)")
    String restoreCommandKind;

    @Option(names = "--dry-run", description = "print the plan and stop")
    boolean dryRun;

    @Option(names = "--start", description = "start PostgreSQL and wait until recovery has finished: process runner: pg_ctl on"
            + " --target-dir; docker runner: a new container on a new volume (no --target-dir), left running")
    boolean start;

    @Option(names = "--port", description = "with --start: the port to listen on (docker: published) on localhost; default: a free one")
    Integer port;

    @Option(names = "--archive-mode", defaultValue = "preserve",
            description = "with --start: preserve (the backup's archive settings) or off (a copy that must not archive)")
    String archiveMode;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        RestoreTarget restoreTarget = target();
        OptionalInt tli = timeline();
        if (!java.util.List.of("promote", "pause", "shutdown").contains(action)) {
            throw usage("--target-action must be promote, pause or shutdown, not '" + action + "'");
        }
        if (!archiveMode.equals("preserve") && !archiveMode.equals("off")) throw usage("--archive-mode must be preserve or off, not '" + archiveMode + "'");
        if (!start && (port != null || !archiveMode.equals("preserve"))) throw usage("--port and --archive-mode apply with --start only");
        PgwardenConfig cfg = options.load();
        // The docker runner's --start restores into a new volume: the daemon's host need not share a filesystem with the engine.
        boolean intoVolume = start && cfg.cluster(options.cluster).runner().type() == io.pgwarden.config.RunnerConfig.Type.DOCKER;
        if (intoVolume && targetDir != null) {
            throw usage("with the docker runner, --start restores into a new Docker volume (named in the output); leave out --target-dir");
        }
        if (!dryRun && !intoVolume && targetDir == null) throw usage("--target-dir is required (or --dry-run)");
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.READ)) {
            WalRepository wal = new WalRepository(storage, cfg.repository());
            wal.encoding().warmUpInBackground(); // long command: worth compiling the cipher
            PitrRestore restore = new PitrRestore(cfg, storage, wal);
            RestorePlan plan = restore.plan(options.cluster, restoreTarget, Optional.ofNullable(backup), tli);
            printPlan(out, plan);
            if (dryRun) return 0;
            RestoreSite.Recovery recovery = new RestoreSite.Recovery(restoreTarget, action, tli, "recovery settings added by pgwarden restore:"
                    + " base backup " + plan.backup().backupId() + ", target " + restoreTarget.describe());
            Progress progress = new Progress(err, plan.rawBytes(), System.console() != null);
            String runId = RunIds.next(Clock.systemUTC()).toLowerCase();
            if (!start) {
                // The runner (a Docker engine, perhaps) only for pg_combinebackup: a full backup needs none.
                try (ToolRunner runner = plan.parents().isEmpty() ? null : ToolRunners.create(cfg.cluster(options.cluster).runner(), BackupCommand.INSTANCE)) {
                    DirectorySite site = restore.directory(options.cluster, targetDir, restoreCommand(cfg, targetDir), Optional.ofNullable(runner), runId);
                    site.fill(plan, recovery, progress);
                    out.println(site.describeFilled(plan));
                }
                printNextStep(out, plan, targetDir.toAbsolutePath().normalize(), cfg.cluster(options.cluster).runner().binDirFor(plan.backup().pgVersionNum() / 10000));
                return 0;
            }
            try (ToolRunner runner = ToolRunners.create(cfg.cluster(options.cluster).runner(), BackupCommand.INSTANCE)) {
                RestoreSite site = restore.forServer(options.cluster, runner, runId, Optional.ofNullable(targetDir),
                        targetDir == null ? null : restoreCommand(cfg, targetDir));
                site.fill(plan, recovery, progress);
                out.println(site.describeFilled(plan));
                startServer(site, plan, out);
            }
        }
        return 0;
    }

    /**
     * Starts PostgreSQL on the restored site, left running for the operator (process runner: the host's binaries on the
     * directory; docker runner: a container on the volume, published on a loopback port), and waits for the end of
     * recovery when it promotes.
     */
    private void startServer(RestoreSite site, RestorePlan plan, PrintWriter out) {
        Duration timeout = Duration.ofHours(24);
        RestoredServer server = site.start(plan, RestoreSite.ServerStart.operator(port != null ? port : freePort(),
                archiveMode.equals("preserve"), timeout));
        out.println("PostgreSQL " + plan.backup().pgVersionNum() / 10000 + " started " + server.describe());
        out.flush();
        if (action.equals("promote")) {
            server.awaitPromoted(timeout);
            out.println("recovery finished and the server was promoted; recovered to " + server.recoveredTo().map(Instant::toString)
                    .orElse("(no transaction replayed)"));
        } else {
            out.println("recovery goes on in the server; it will " + action + " at the target");
        }
        out.println(server.stopHint());
        out.flush();
    }

    private static int freePort() {
        try (var socket = new java.net.ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw usage("cannot find a free port: " + e.getMessage());
        }
    }

    private RestoreTarget target() {
        if (target.latest) return new RestoreTarget.Latest();
        if (target.name != null) {
            return RestoreTarget.parseName(target.name, "--target-name");
        }
        if (target.lsn != null) {
            try {
                return new RestoreTarget.Position(Lsn.parse(target.lsn));
            } catch (IllegalArgumentException e) {
                throw usage("--target-lsn: " + e.getMessage());
            }
        }
        return new RestoreTarget.Time(parseTime(target.time));
    }

    static Instant parseTime(String text) {
        return RestoreTarget.parseTime(text, "--target-time");
    }

    private OptionalInt timeline() {
        if (timeline.equals("latest")) return OptionalInt.empty();
        try {
            int t = Integer.parseInt(timeline);
            if (t < 1) throw new NumberFormatException();
            return OptionalInt.of(t);
        } catch (NumberFormatException e) {
            throw usage("--target-timeline must be 'latest' or a timeline number, not '" + timeline + "'");
        }
    }

    private String restoreCommand(PgwardenConfig cfg, Path targetDir) {
        Path dir = targetDir.toAbsolutePath().normalize();
        return switch (restoreCommandKind) {
            case "standalone" -> io.pgwarden.restore.RestoreCommands.standalone(options.config, options.cluster);
            case "daemon" -> io.pgwarden.restore.RestoreCommands.viaDaemon(cfg, options.cluster, io.pgwarden.restore.RestoreCommands.headerFileBeside(dir));
            default -> throw usage("--restore-command must be standalone or daemon, not '" + restoreCommandKind + "'");
        };
    }

    private static void printPlan(PrintWriter out, RestorePlan plan) {
        out.println("restore plan for cluster '" + plan.cluster() + "'");
        out.println("  target:        " + plan.target().describe());
        out.printf("  base backup:   %s (ended %s, LSN %s, timeline %d, %.1f MB stored)%n", plan.backup().backupId(),
                plan.backup().stopTime(), plan.backup().stopLsn(), plan.backup().timeline(), plan.backup().storedBytes() / 1e6);
        if (!plan.parents().isEmpty()) {
            out.println("  incremental:   combined with " + String.join(", ", plan.parentIds()) + " (pg_combinebackup, full backup first)");
        }
        out.println("  timeline:      " + plan.timeline());
        out.printf("  WAL:           %s .. %s (%d files, %.1f MB stored; fetched by restore_command during recovery)%n",
                plan.firstWal(), plan.lastWal(), plan.walFiles(), plan.walStoredBytes() / 1e6);
        out.printf("  to download:   %.1f MB%n", plan.bytesToDownload() / 1e6);
        out.println("  latest restorable point: " + plan.latestArchiveAt() + " (when " + plan.lastWal() + " was archived)");
        out.flush();
    }

    private static void printNextStep(PrintWriter out, RestorePlan plan, Path dir, Path bin) {
        int major = plan.backup().pgVersionNum() / 10000;
        out.println("next: start PostgreSQL " + major + " on it as the postgres user; it replays WAL up to the target, then "
                + "acts as --target-action says:");
        if ("root".equals(System.getProperty("user.name"))) out.println("  chown -R postgres:postgres " + dir);
        out.println("  " + bin.resolve("pg_ctl") + " -D " + dir + " -l " + dir + "/restore.log start");
        out.flush();
    }

    private static PgwardenException usage(String message) {
        return new PgwardenException(ErrorCode.USAGE, message);
    }
}
