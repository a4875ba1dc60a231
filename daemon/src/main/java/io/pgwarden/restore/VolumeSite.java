package io.pgwarden.restore;

import io.pgwarden.config.Secret;
import io.pgwarden.runner.DockerToolRunner;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A restore into a new Docker volume: the base backup and the WAL recovery needs are staged on it by sidecars, and
 * PostgreSQL runs in a container on it (see {@link VolumeRestorer}). A scratch volume is removed with the site; an
 * operator's volume and server are kept.
 */
final class VolumeSite implements RestoreSite {
    private final VolumeRestorer restorer;
    private final DockerToolRunner docker;
    private final String volume;
    private final String runId;
    private final boolean scratch;
    private final Map<String, Secret> psql;
    private Recovery recovery;

    /** @param psql libpq settings for queries on the started server (see {@link SidecarServer}) */
    VolumeSite(VolumeRestorer restorer, DockerToolRunner docker, String volume, String runId, boolean scratch, Map<String, Secret> psql) {
        this.restorer = restorer;
        this.docker = docker;
        this.volume = volume;
        this.runId = runId;
        this.scratch = scratch;
        this.psql = Map.copyOf(psql);
    }

    public String volume() {
        return volume;
    }

    @Override
    public void fill(RestorePlan plan, Recovery recovery, Progress progress) {
        restorer.restore(plan, volume, runId, !scratch, scratch, progress);
        this.recovery = recovery;
    }

    /** The recovery settings go on the server's command line; its WAL is the staged copy of the plan's timeline. */
    @Override
    public RestoredServer start(RestorePlan plan, ServerStart options) {
        if (recovery == null) throw new IllegalStateException("volume '" + volume + "' was not filled");
        OptionalInt timeline = recovery.timeline().isPresent() ? recovery.timeline() : OptionalInt.of(plan.timeline());
        RecoverySettings settings = new RecoverySettings(VolumeRestorer.restoreCommand(), recovery.target(), recovery.action(), timeline,
                recovery.comment());
        return restorer.start(plan, volume, runId, new VolumeRestorer.ServerOptions(options.scratch(),
                options.scratch() ? null : options.port(), options.archiving(), settings, psql, !options.scratch()));
    }

    @Override
    public void remove() {
        docker.engine().removeVolume(volume);
    }

    @Override
    public String describeFilled(RestorePlan plan) {
        return "restored base backup " + plan.backup().backupId() + (plan.parents().isEmpty() ? "" : " (incremental, combined with "
                + String.join(", ", plan.parentIds()) + ")")
                + " and WAL " + plan.firstWal() + ".." + plan.lastWal()
                + " into Docker volume " + volume;
    }
}
