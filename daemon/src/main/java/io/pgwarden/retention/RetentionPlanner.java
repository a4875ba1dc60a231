package io.pgwarden.retention;

import io.pgwarden.config.RetentionConfig;
import io.pgwarden.repository.BackupChain;
import io.pgwarden.repository.BaseBackupManifest;
import io.pgwarden.repository.DumpManifest;
import io.pgwarden.retention.RetentionPlan.Deletion;
import io.pgwarden.retention.RetentionPlan.Kind;
import java.time.Instant;
import java.time.LocalDate;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Decides what retention deletes; pure: the repository's committed backups, dumps and test-restore records and
 * the clock go in, a plan comes out. Invariants hold whatever the policy says: the newest base backup stays, and
 * with it every WAL file from the start of the oldest backup that stays; the newest dump of each database stays;
 * history files stay. Under S3 object lock nothing is planned for deletion while its lock may still hold.
 */
final class RetentionPlanner {
    private RetentionPlanner() {
    }

    /** The repository as retention sees it. @param restoreTests test-restore record ids */
    public record Catalog(String cluster, List<BaseBackupManifest> baseBackups, List<DumpManifest> dumps, List<String> restoreTests) {
    }

    /**
     * Objects are written some time after the instant a manifest or run id records (uploads, verification); a lock
     * is taken to hold that much longer, so that no delete meets a lock that has not quite expired.
     */
    static final java.time.Duration LOCK_MARGIN = java.time.Duration.ofDays(1);

    public static RetentionPlan plan(Catalog catalog, RetentionConfig policy, Instant now) {
        return plan(catalog, policy, java.time.Duration.ZERO, now);
    }

    /** @param objectLock how long every object stays locked after it is written (ZERO: no object lock) */
    public static RetentionPlan plan(Catalog catalog, RetentionConfig policy, java.time.Duration objectLock, Instant now) {
        java.util.function.Predicate<Instant> locked = written -> !objectLock.isZero()
                && written.plus(objectLock).plus(LOCK_MARGIN).isAfter(now);
        List<Deletion> deletions = new ArrayList<>();
        List<BaseBackupManifest> keptBackups = baseBackups(catalog.baseBackups(), policy, now, locked, deletions);
        dumps(catalog.dumps(), policy, now, deletions);
        restoreTests(catalog.restoreTests(), deletions);
        deletions.removeIf(d -> d.kind() != Kind.BASE && locked.test(d.writtenAt()));
        Optional<Instant> walWrittenBefore = objectLock.isZero() ? Optional.empty() : Optional.of(now.minus(objectLock).minus(LOCK_MARGIN));
        // WAL goes only under a base backup rule, and only before a backup that stays: without one, nothing says
        // which WAL is no longer needed.
        Optional<RetentionPlan.WalCutoff> wal = keptBackups.stream().filter(b -> policy.prunesBaseBackups())
                .min(Comparator.comparing(b -> b.startWalFile().substring(8)))
                .map(oldest -> new RetentionPlan.WalCutoff(oldest.startWalFile(), "before the start of base backup " + oldest.backupId()
                        + ", the oldest that stays", walWrittenBefore));
        return new RetentionPlan(catalog.cluster(), deletions, wal);
    }

    /** Returns the backups that stay. */
    private static List<BaseBackupManifest> baseBackups(List<BaseBackupManifest> all, RetentionConfig policy, Instant now,
                                                        java.util.function.Predicate<Instant> locked, List<Deletion> deletions) {
        if (!policy.prunesBaseBackups() || all.isEmpty()) return all;
        List<BaseBackupManifest> newestFirst = all.stream().sorted(Comparator.comparing(BaseBackupManifest::stopTime).reversed()).toList();
        Set<String> keep = new HashSet<>();
        keep.add(newestFirst.get(0).backupId()); // the newest backup is never deleted
        policy.keepLast().ifPresent(n -> newestFirst.stream().limit(n).forEach(b -> keep.add(b.backupId())));
        policy.window().ifPresent(window -> {
            Instant from = now.minus(window);
            newestFirst.stream().filter(b -> !b.stopTime().isBefore(from)).forEach(b -> keep.add(b.backupId()));
            // The window's oldest points are reachable only from the newest backup that ended before it.
            newestFirst.stream().filter(b -> b.stopTime().isBefore(from)).findFirst().ifPresent(b -> keep.add(b.backupId()));
        });
        keepParents(all, keep);
        List<BaseBackupManifest> kept = new ArrayList<>();
        for (BaseBackupManifest b : all) {
            // A locked backup stays a backup, and so does the WAL it needs (the cutoff is taken from what stays).
            if (keep.contains(b.backupId()) || locked.test(b.stopTime())) kept.add(b);
            else deletions.add(new Deletion(Kind.BASE, b.backupId(), null, baseReason(policy), b.storedBytes(), b.stopTime()));
        }
        return kept;
    }

    /** An incremental backup is nothing without the backups it builds on: they stay while it does. */
    private static void keepParents(List<BaseBackupManifest> all, Set<String> keep) {
        Map<String, BaseBackupManifest> byId = new LinkedHashMap<>();
        for (BaseBackupManifest b : all) byId.put(b.backupId(), b);
        for (String id : List.copyOf(keep)) {
            BackupChain.ancestors(byId.get(id), byId).forEach(parent -> keep.add(parent.backupId()));
        }
    }

    private static String baseReason(RetentionConfig policy) {
        List<String> why = new ArrayList<>();
        policy.keepLast().ifPresent(n -> why.add("not among the " + n + " newest"));
        policy.window().ifPresent(w -> why.add("not needed for PITR within the window of " + human(w)));
        return String.join(" and ", why);
    }

    private static void dumps(List<DumpManifest> all, RetentionConfig policy, Instant now, List<Deletion> deletions) {
        if (!policy.prunesDumps()) return;
        Map<String, List<DumpManifest>> byDatabase = new LinkedHashMap<>();
        for (DumpManifest d : all) byDatabase.computeIfAbsent(d.isGlobals() ? "" : "=" + d.database(), k -> new ArrayList<>()).add(d);
        for (List<DumpManifest> dumps : byDatabase.values()) {
            List<DumpManifest> newestFirst = dumps.stream().sorted(Comparator.comparing(DumpManifest::stopTime).reversed()).toList();
            Map<String, String> keptBy = keptByCounts(newestFirst, policy);
            Instant oldestAllowed = policy.dumpMaxAge().map(now::minus).orElse(Instant.MIN);
            for (int i = 0; i < newestFirst.size(); i++) {
                DumpManifest d = newestFirst.get(i);
                if (i == 0) continue; // the newest dump of a database is never deleted
                boolean tooOld = d.stopTime().isBefore(oldestAllowed);
                boolean counted = !policy.dumps().any() || keptBy.containsKey(d.dumpId());
                if (counted && !tooOld) continue;
                String reason = tooOld ? "older than maxAge " + human(policy.dumpMaxAge().get())
                        : "not the newest of a day, week, month or year the counts keep (" + counts(policy.dumps()) + ")";
                deletions.add(new Deletion(d.isGlobals() ? Kind.GLOBALS : Kind.DUMP, d.dumpId(), d.database(), reason, d.storedBytes(),
                        d.stopTime()));
            }
        }
    }

    /** Grandfather-father-son: for each rule, the newest dump of each of the N most recent periods that have one. */
    private static Map<String, String> keptByCounts(List<DumpManifest> newestFirst, RetentionConfig policy) {
        Map<String, String> kept = new LinkedHashMap<>();
        RetentionConfig.Gfs gfs = policy.dumps();
        keepPeriods(newestFirst, gfs.daily(), day -> day.toString(), "daily", policy, kept);
        keepPeriods(newestFirst, gfs.weekly(), day -> day.get(IsoFields.WEEK_BASED_YEAR) + "-W" + day.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR),
                "weekly", policy, kept);
        keepPeriods(newestFirst, gfs.monthly(), day -> day.getYear() + "-" + day.getMonthValue(), "monthly", policy, kept);
        keepPeriods(newestFirst, gfs.yearly(), day -> Integer.toString(day.getYear()), "yearly", policy, kept);
        return kept;
    }

    private static void keepPeriods(List<DumpManifest> newestFirst, int count, Function<LocalDate, String> period, String rule,
                                    RetentionConfig policy, Map<String, String> kept) {
        String last = null;
        int periods = 0;
        for (DumpManifest d : newestFirst) {
            if (periods >= count) return;
            String p = period.apply(d.stopTime().atZone(policy.timeZone()).toLocalDate());
            if (p.equals(last)) continue;
            last = p;
            periods++;
            kept.putIfAbsent(d.dumpId(), rule);
        }
    }

    private static void restoreTests(List<String> ids, List<Deletion> deletions) {
        List<String> newestFirst = ids.stream().sorted(Comparator.reverseOrder()).toList();
        for (String id : newestFirst.subList(Math.min(newestFirst.size(), RetentionConfig.RESTORE_TEST_RECORDS), newestFirst.size())) {
            deletions.add(new Deletion(Kind.RESTORE_TEST, id, null, "not among the " + RetentionConfig.RESTORE_TEST_RECORDS
                    + " newest test-restore records", 0, io.pgwarden.repository.RunIds.startedAt(id).orElse(Instant.EPOCH)));
        }
    }

    private static String counts(RetentionConfig.Gfs g) {
        return "daily " + g.daily() + ", weekly " + g.weekly() + ", monthly " + g.monthly() + ", yearly " + g.yearly();
    }

    static String human(java.time.Duration d) {
        if (d.toSeconds() % 86400 == 0) return d.toDays() + "d";
        if (d.toSeconds() % 3600 == 0) return d.toHours() + "h";
        if (d.toSeconds() % 60 == 0) return d.toMinutes() + "m";
        return d.toSeconds() + "s";
    }
}
