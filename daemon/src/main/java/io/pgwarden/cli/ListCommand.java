package io.pgwarden.cli;

import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.repository.RepositoryJson;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.repository.RepositoryMarker;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "list", description = "Show a cluster's base backups, dumps and archived WAL per timeline, read from the repository.")
final class ListCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Option(names = "--json", description = "print JSON instead of a table")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PgwardenConfig cfg = options.load();
        cfg.cluster(options.cluster);
        Catalog.Listing listing;
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.READ)) {
            listing = new Catalog(storage).list(options.cluster);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) out.println(RepositoryJson.MAPPER.writeValueAsString(listing));
        else printTable(out, listing);
        out.flush();
        return 0;
    }

    private static void printTable(PrintWriter out, Catalog.Listing listing) {
        out.println("cluster " + listing.cluster());
        out.println();
        out.println("base backups: " + listing.baseBackups().size());
        if (!listing.baseBackups().isEmpty()) {
            out.printf("  %-22s %-20s %-20s %-12s %-12s %10s %10s  %s%n", "id", "start", "stop", "start lsn", "stop lsn", "raw MB", "stored MB",
                    "kind");
            for (BaseBackupManifest b : listing.baseBackups()) {
                out.printf("  %-22s %-20s %-20s %-12s %-12s %10.1f %10.1f  %s%n", b.backupId(), b.startTime().toString().substring(0, 19),
                        b.stopTime().toString().substring(0, 19), b.startLsn(), b.stopLsn(), b.rawBytes() / 1e6, b.storedBytes() / 1e6,
                        b.isIncremental() ? "incremental on " + b.parentId() : "full");
            }
        }
        out.println();
        out.println("archived WAL per timeline:");
        if (listing.wal().isEmpty()) out.println("  none");
        for (Catalog.TimelineWal t : listing.wal()) {
            out.printf("  timeline %d: %s .. %s (%d segments, %.1f MB stored)%n", t.timeline(), t.firstSegment(), t.lastSegment(),
                    t.segments(), t.storedBytes() / 1e6);
        }
        out.println();
        out.println("restorable: " + (listing.earliestRestorable() == null ? "nothing (no committed base backup)"
                : "from " + listing.earliestRestorable() + " (end of the oldest backup) to the end of WAL file "
                + (listing.latestWalFile() == null ? "(none archived)" : listing.latestWalFile())));
        out.println();
        out.println("dumps: " + listing.dumps().size());
        if (!listing.dumps().isEmpty()) {
            out.printf("  %-22s %-24s %-20s %-20s %10s %10s%n", "id", "database", "start", "stop", "raw MB", "stored MB");
            for (DumpManifest d : listing.dumps()) {
                out.printf("  %-22s %-24s %-20s %-20s %10.1f %10.1f%n", d.dumpId(), d.isGlobals() ? "(globals)" : d.database(),
                        d.startTime().toString().substring(0, 19), d.stopTime().toString().substring(0, 19), d.rawBytes() / 1e6,
                        d.storedBytes() / 1e6);
            }
        }
    }
}
