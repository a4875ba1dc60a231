package io.pgwarden.cli;

import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.retention.GarbageCollector;
import io.pgwarden.retention.RetentionExecutor;
import io.pgwarden.retention.RetentionPlan;
import io.pgwarden.retention.RetentionService;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.repository.RepositoryMarker;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "prune", description = "Delete what clusters.<name>.retention no longer keeps (base backups, dumps, the WAL only they"
        + " needed, old test-restore records) and garbage older than repository.garbageGrace. Prints the plan first.")
final class PruneCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Option(names = "--dry-run", description = "print the plan and delete nothing")
    boolean dryRun;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PgwardenConfig cfg = options.load();
        cfg.cluster(options.cluster);
        PrintWriter out = spec.commandLine().getOut();
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.READ)) {
            RetentionService retention = new RetentionService(cfg, storage, Clock.systemUTC());
            // This process runs nothing else: no run of its own to protect from garbage collection.
            RetentionService.Prune prune = retention.plan(options.cluster, Set.of());
            boolean anything = print(out, prune, retention);
            if (dryRun || !anything) return 0;
            RetentionExecutor.Result done = retention.apply(prune);
            out.printf("deleted %d objects, %.1f MB%n", done.objects(), done.bytes() / 1e6);
        }
        return 0;
    }

    /** Prints the plan as a table; false when it deletes nothing. */
    private boolean print(PrintWriter out, RetentionService.Prune prune, RetentionService retention) {
        RetentionPlan plan = prune.plan();
        out.println((dryRun ? "retention plan (dry run) for cluster '" : "retention plan for cluster '") + options.cluster + "'");
        long[] wal = new long[2];
        retention.walToDelete(plan, o -> {
            wal[0]++;
            wal[1] += o.size();
        });
        if (plan.deletions().isEmpty() && wal[0] == 0 && prune.garbage().isEmpty()) {
            out.println("  nothing to delete");
            out.flush();
            return false;
        }
        out.printf("  %-12s %-26s %-16s %10s  %s%n", "KIND", "ID", "DATABASE", "MB", "WHY");
        for (RetentionPlan.Deletion d : plan.deletions()) {
            out.printf("  %-12s %-26s %-16s %10.1f  %s%n", d.kind().name().toLowerCase().replace('_', '-'), d.id(),
                    d.database() == null ? "" : d.database(), d.storedBytes() / 1e6, d.reason());
        }
        if (wal[0] > 0) {
            RetentionPlan.WalCutoff w = plan.walBefore().orElseThrow();
            out.printf("  %-12s %-43s %10.1f  %d files %s%n", "wal", "before " + w.walFile(), wal[1] / 1e6, wal[0], w.reason());
        }
        for (GarbageCollector.Garbage g : prune.garbage()) {
            out.printf("  %-12s %-43s %10.1f  %s%n", "garbage", g.directory(), g.storedBytes() / 1e6, g.describe());
        }
        out.flush();
        return true;
    }
}
