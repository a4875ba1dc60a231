package io.pgwarden.backup;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/** A local copy of pg_basebackup's backup_manifest, kept until it is stored as an object of its own. */
interface ManifestCopy extends AutoCloseable {
    /** How much of the manifest's end is kept in memory: enough for its WAL-Ranges. */
    int END_BYTES = 64 << 10;

    /** The whole manifest; empty if the backup had none. */
    Optional<Path> manifestFile();

    /** Its last bytes (the WAL-Ranges a standby backup's stop point comes from); empty if the backup had none. */
    Optional<String> manifestEnd();

    /** Removes the copy. */
    @Override
    void close() throws IOException;
}
