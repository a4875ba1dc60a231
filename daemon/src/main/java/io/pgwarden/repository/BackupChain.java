package io.pgwarden.repository;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/** The backups an incremental base backup builds on, as restores and retention both follow them. */
public final class BackupChain {
    private BackupChain() {
    }

    /**
     * The backups {@code b} builds on, the oldest first, as far as they are found in {@code byId}: a missing parent, or a
     * cycle in edited manifests, ends the walk. Empty for a full backup.
     */
    public static List<BaseBackupManifest> ancestors(BaseBackupManifest b, Map<String, BaseBackupManifest> byId) {
        List<BaseBackupManifest> found = new ArrayList<>();
        for (BaseBackupManifest at = b; at.isIncremental(); ) {
            BaseBackupManifest parent = byId.get(at.parentId());
            if (parent == null || parent == b || found.contains(parent)) break;
            found.add(parent);
            at = parent;
        }
        Collections.reverse(found);
        return found;
    }

    /** Whether {@code b} with these {@link #ancestors} reaches a full backup, so that it can be restored. */
    public static boolean complete(BaseBackupManifest b, List<BaseBackupManifest> ancestors) {
        return !(ancestors.isEmpty() ? b : ancestors.get(0)).isIncremental();
    }
}
