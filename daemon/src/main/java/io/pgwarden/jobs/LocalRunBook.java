package io.pgwarden.jobs;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/** The runs of this process: slots in a map, the latest states kept for status queries (a bounded number). */
public final class LocalRunBook implements RunBook {
    private static final int KEPT_RUNS = 200;

    private final Map<String, JobRun> running = new ConcurrentHashMap<>();
    private final Map<String, JobRun> recent = new LinkedHashMap<>();

    @Override
    public JobRun claim(String slot, JobRun run) {
        JobRun existing = running.putIfAbsent(slot, run);
        if (existing != null) throw busy(run, existing, "");
        remember(run);
        return run;
    }

    /** The refusal of a run whose slot is taken, naming the run that holds it (and where, for a shared book). */
    static PgwardenException busy(JobRun refused, JobRun holder, String where) {
        return new PgwardenException(ErrorCode.BUSY, "a " + refused.kind().noun() + " of cluster '" + refused.cluster()
                + "' is already running (run " + holder.id() + ", started " + holder.startedAt() + " by " + holder.trigger() + where
                + "); nothing was started");
    }

    /** Frees a slot claimed here whose claim could not be recorded elsewhere. */
    void release(String slot, JobRun run) {
        running.remove(slot, run);
        synchronized (recent) {
            recent.remove(run.id());
        }
    }

    @Override
    public void finish(String slot, JobRun done) {
        remember(done);
        running.remove(slot);
    }

    @Override
    public Optional<JobRun> find(String cluster, String id) {
        synchronized (recent) {
            return Optional.ofNullable(recent.get(id)).filter(s -> s.cluster().equals(cluster));
        }
    }

    @Override
    public Set<String> activeRunIds() {
        return running.values().stream().map(JobRun::id).collect(Collectors.toSet());
    }

    @Override
    public List<JobRun> ownRunning() {
        return List.copyOf(running.values());
    }

    private void remember(JobRun run) {
        synchronized (recent) {
            recent.put(run.id(), run);
            if (recent.size() > KEPT_RUNS) recent.remove(recent.keySet().iterator().next());
        }
    }
}
