package io.pgwarden.verify;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.pg.WalFileName;
import io.pgwarden.repository.BackupObjects;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.Catalog;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.repository.RepositoryLayout;
import io.pgwarden.repository.VerifiedObject;
import io.pgwarden.repository.WalRepository;
import io.pgwarden.restore.RestorePlan;
import io.pgwarden.restore.RestorePlanner;
import io.pgwarden.restore.RestoreTarget;
import io.pgwarden.storage.StorageDriver;
import io.pgwarden.storage.StorageDriver.ObjectInfo;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Proves the repository can restore: re-reads every object of each base backup and dump and every WAL file from the
 * oldest backup's start (SHA-256 and size, through the same verified reader a restore uses), and checks WAL
 * continuity from each backup to the newest WAL of its timeline. Every problem is reported, not just the first.
 */
public final class RepositoryVerifier {
    private final StorageDriver storage;
    private final WalRepository wal;
    /** Objects and stored bytes per key id ("" for objects in clear), over every object read. */
    private final java.util.Map<String, long[]> keyUsage = new java.util.TreeMap<>();

    public RepositoryVerifier(StorageDriver storage, WalRepository wal) {
        this.storage = storage;
        this.wal = wal;
    }

    /** @param ok false: {@code detail} says what is wrong, naming the object */
    public record Finding(String what, boolean ok, String detail) {
    }

    /** @param onlyBackup check this base backup (and the WAL it needs) only; dumps are then skipped */
    public List<Finding> verify(String cluster, Optional<String> onlyBackup, Consumer<Finding> progress) {
        List<Finding> problems = new ArrayList<>();
        Consumer<Finding> report = f -> {
            progress.accept(f);
            if (!f.ok()) problems.add(f);
        };
        List<BaseBackupManifest> backups = new Catalog(storage).baseBackups(cluster).stream()
                .filter(b -> onlyBackup.isEmpty() || b.backupId().equals(onlyBackup.get())).toList();
        if (onlyBackup.isPresent() && backups.isEmpty()) {
            throw PgwardenException.notFound("cluster '" + cluster + "' has no base backup '" + onlyBackup.get() + "'");
        }
        RestorePlanner planner = new RestorePlanner(storage, wal);
        for (BaseBackupManifest b : backups) {
            report.accept(check("base backup " + b.backupId(), () -> read(BackupObjects.openBase(storage, wal.encoding(), b))));
            if (b.backupManifest() != null) {
                report.accept(check("backup_manifest of base backup " + b.backupId(),
                        () -> read(BackupObjects.openBasePgManifest(storage, wal.encoding(), b))));
            }
            report.accept(check("WAL continuity of base backup " + b.backupId(), () -> continuity(planner, cluster, b)));
        }
        if (onlyBackup.isEmpty()) {
            for (DumpManifest d : new Catalog(storage).dumps(cluster)) {
                String what = d.isGlobals() ? "globals dump " + d.dumpId() : "dump " + d.dumpId() + " of database '" + d.database() + "'";
                report.accept(check(what, () -> read(BackupObjects.openDump(storage, wal.encoding(), d))));
            }
        }
        backups.stream().map(b -> b.startWalFile().substring(8)).min(String::compareTo)
                .ifPresent(from -> walFiles(cluster, from, report));
        // Why: after a rotation, an old key may leave the keyset only once no object needs it.
        if (!keyUsage.isEmpty()) report.accept(new Finding("encryption keys", true, describeKeyUsage()));
        return problems;
    }

    /** Every WAL object from the oldest checked backup's start (all timelines; history files whatever their position). */
    private void walFiles(String cluster, String from, Consumer<Finding> report) {
        long[] ok = new long[1];
        try (Stream<ObjectInfo> objects = storage.list(RepositoryLayout.walPrefix(cluster))) {
            objects.forEach(o -> RepositoryLayout.walFileOf(o.key())
                    .filter(n -> n.kind() == WalFileName.Kind.TIMELINE_HISTORY || n.name().substring(8, 24).compareTo(from) >= 0)
                    .ifPresent(name -> {
                        Finding f = check("WAL file " + name.name(), () -> read(wal.open(cluster, name).orElseThrow(() ->
                                PgwardenException.integrity("repository object '" + o.key() + "' vanished while being verified"))));
                        if (f.ok()) ok[0]++;
                        else report.accept(f);
                    }));
        }
        report.accept(new Finding("WAL files read back", true, ok[0] + " intact"));
    }

    private static String continuity(RestorePlanner planner, String cluster, BaseBackupManifest b) {
        // With chains: an incremental backup is checked as restorable with the backups it builds on (a missing one is reported).
        RestorePlan plan = planner.plan(cluster, new RestoreTarget.Latest(), Optional.of(b.backupId()), OptionalInt.of(b.timeline()));
        return plan.firstWal() + ".." + plan.lastWal() + " (" + plan.walFiles() + " files, timeline " + plan.timeline() + ")";
    }

    private String describeKeyUsage() {
        List<String> parts = new ArrayList<>();
        keyUsage.forEach((key, usage) -> parts.add((key.isEmpty() ? "in clear" : "key " + key) + " protects " + usage[0]
                + " object(s), " + usage[1] + " bytes stored"));
        return String.join("; ", parts);
    }

    private String read(VerifiedObject object) {
        try (object) {
            String keyId = object.sealed().map(s -> Long.toString(s.keyId())).orElse("");
            synchronized (keyUsage) {
                long[] usage = keyUsage.computeIfAbsent(keyId, k -> new long[2]);
                usage[0]++;
                usage[1] += object.storedSize();
            }
            object.writeTo(OutputStream.nullOutputStream());
            return object.rawSize() + " bytes, SHA-256 matches";
        } catch (IOException e) {
            throw PgwardenException.unavailable("reading repository object '" + object.key() + "' failed: " + e.getMessage(), e);
        }
    }

    private static Finding check(String what, Supplier<String> step) {
        try {
            return new Finding(what, true, step.get());
        } catch (PgwardenException e) {
            return new Finding(what, false, e.getMessage() + (e.code() == ErrorCode.INTEGRITY ? "" : " [" + e.code().name().toLowerCase() + "]"));
        }
    }
}
