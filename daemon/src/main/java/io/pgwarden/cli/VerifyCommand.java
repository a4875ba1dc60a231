package io.pgwarden.cli;

import io.pgwarden.config.PgwardenConfig;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.repository.RepositoryMarker;
import io.pgwarden.verify.RepositoryVerifier;
import java.io.PrintWriter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "verify", description = "Re-read every base backup, dump and WAL file of a cluster (SHA-256, size) and check WAL continuity"
        + " from each backup; exit 5 naming each broken object.")
final class VerifyCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Option(names = "--backup", description = "only this base backup and the WAL it needs")
    String backup;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PgwardenConfig cfg = options.load();
        cfg.cluster(options.cluster);
        PrintWriter out = spec.commandLine().getOut();
        List<RepositoryVerifier.Finding> problems;
        io.pgwarden.repository.Encoding.of(cfg.repository()).warmUpInBackground(); // long command: worth compiling the cipher
        try (StorageDriver storage = RepositoryMarker.open(cfg.repository(), RepositoryMarker.Access.READ)) {
            problems = new RepositoryVerifier(storage, new WalRepository(storage, cfg.repository())).verify(options.cluster, Optional.ofNullable(backup), f -> {
                out.println((f.ok() ? "  ok      " : "  FAILED  ") + f.what() + ": " + f.detail());
                out.flush();
            });
        }
        if (problems.isEmpty()) {
            out.println("cluster '" + options.cluster + "': the repository verified");
            return 0;
        }
        throw PgwardenException.integrity("cluster '" + options.cluster + "': " + problems.size() + " problem(s); the first: " + problems.get(0).what()
                + ": " + problems.get(0).detail());
    }
}
