package io.pgwarden.jobs;

import io.pgwarden.metrics.Metrics;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.RepositorySize;
import io.pgwarden.storage.StorageDriver;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The gauges read from the repository itself: how far back recovery reaches, how many bytes each kind stores. */
public final class RepositoryGauges {
    private static final Logger log = LoggerFactory.getLogger(RepositoryGauges.class);

    private final StorageDriver storage;
    private final Metrics metrics;

    public RepositoryGauges(StorageDriver storage, Metrics metrics) {
        this.storage = storage;
        this.metrics = metrics;
    }

    /** Recomputes where point-in-time recovery reaches back to (after a backup; retention will change it too). */
    public void updateRecoveryWindow(String cluster) {
        try {
            List<BaseBackupManifest> backups = new Catalog(storage).baseBackups(cluster);
            metrics.earliestRestorable(cluster, backups.isEmpty() ? null : backups.get(0).stopTime());
        } catch (RuntimeException e) {
            log.warn("cluster '{}': cannot read the backups to update recovery_window_seconds: {}", cluster, e.getMessage());
        }
    }

    /**
     * Re-measures the stored bytes by kind (after every run: any of them adds or removes objects); at start-up this
     * also tells when the newest WAL file was archived, which the metric would otherwise forget across a restart.
     */
    public void updateRepositorySize(String cluster) {
        try {
            RepositorySize.Measurement m = RepositorySize.measure(storage, cluster);
            metrics.repositorySize(cluster, m.bytesByKind());
            m.newestWal().ifPresent(at -> metrics.walArchivedAtLeast(cluster, at));
        } catch (RuntimeException e) {
            log.warn("cluster '{}': cannot list the repository to update repository_size_bytes: {}", cluster, e.getMessage());
        }
    }
}
