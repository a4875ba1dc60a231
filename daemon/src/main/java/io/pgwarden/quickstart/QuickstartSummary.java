package io.pgwarden.quickstart;

import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.repository.RestoreTestRecord;
import java.io.PrintWriter;
import java.time.Duration;

/** The table the quickstart prints once everything ran: what is in the repository, and what the test restore proved. */
public final class QuickstartSummary {
    private QuickstartSummary() {
    }

    public static void print(PrintWriter out, Quickstart.Result r) {
        String cfg = r.configFile().toString();
        String pgwarden = System.getProperty("pgwarden.launcher", "pgwarden"); // bin/pgwarden as it was started
        out.println();
        out.printf("Summary: cluster '%s', PostgreSQL %s, repository %s/repo (%.1f s in all)%n", Quickstart.CLUSTER, r.pgVersion(),
                r.dir(), r.elapsed().toMillis() / 1000.0);
        out.printf("  %-22s %-34s %12s %12s %9s%n", "backed up", "id", "size", "stored", "took");
        for (BaseBackupManifest b : r.listing().baseBackups()) {
            row(out, "base backup", b.backupId(), b.rawBytes(), b.storedBytes(), Duration.between(b.startTime(), b.stopTime()));
        }
        for (DumpManifest d : r.listing().dumps()) {
            row(out, d.isGlobals() ? "dump (globals)" : "dump " + d.database(), d.dumpId(), d.rawBytes(), d.storedBytes(),
                    Duration.between(d.startTime(), d.stopTime()));
        }
        for (Catalog.TimelineWal w : r.listing().wal()) {
            out.printf("  %-22s %-34s %12s %12s %9s%n", "WAL, timeline " + w.timeline(), w.segments() + " files, " + w.firstSegment().substring(16)
                    + ".." + w.lastSegment().substring(16), "", mb(w.storedBytes()), "");
        }
        out.println();
        out.printf("  recovery window        from %s (end of the oldest base backup) to %s (the newest archived WAL file)%n",
                r.listing().earliestRestorable(), r.listing().latestWalFile());
        RestoreTestRecord t = r.restoreTest();
        out.printf("  test restore           %s to %s: base backup %s, recovered to %s%n", t.outcome(), r.target(), t.backupId(), t.recoveredTo());
        for (RestoreTestRecord.CheckResult c : t.checks()) {
            out.printf("                         rows per batch in the restored copy: %s (expected %s: batch 3 came after the target)%n",
                    c.actual().replace('\n', ' ').replace("|", ": "), c.expect().replace('\n', ' ').replace("|", ": "));
        }
        out.printf("                         recovery time %.1f s (start to promotion), %.1f s in all (fetch, unpack, replay, checks)%n",
                t.recoverySeconds(), t.totalSeconds());
        out.println();
        String base = "http://127.0.0.1:" + r.daemonPort();
        out.println("  metrics   " + base + "/metrics");
        out.println("  health    " + base + "/health   ready " + base + "/ready");
        out.println();
        out.println("Try, while this runs:");
        out.printf("  %s                  # the scratch cluster (its own socket)%n", r.psqlCommand());
        out.printf("  %s list --config %s --cluster %s%n", pgwarden, cfg, Quickstart.CLUSTER);
        out.printf("  %s backup --config %s --cluster %s --kind base%n", pgwarden, cfg, Quickstart.CLUSTER);
        out.printf("  curl -s %s/metrics | grep '^pgwarden_'%n", base);
        out.flush();
    }

    private static void row(PrintWriter out, String what, String id, long raw, long stored, Duration took) {
        out.printf("  %-22s %-34s %12s %12s %8.1fs%n", what, id, mb(raw), mb(stored), took.toMillis() / 1000.0);
    }

    private static String mb(long bytes) {
        return String.format("%.2f MB", bytes / 1e6);
    }
}
