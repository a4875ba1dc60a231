package io.pgwarden.repository;

import java.time.Instant;

/**
 * What the repository knows of the PostgreSQL system behind a cluster name ({cluster}/cluster.json).
 * The system identifier is kept as an unsigned decimal string: JSON readers lose precision above 2^53.
 */
public record ClusterInfo(String systemIdentifier, long segmentSize, int pgMajor, Instant pinnedAt, String pinnedBy) {

    public long systemIdentifierValue() {
        return Long.parseUnsignedLong(systemIdentifier);
    }

    public static String formatSystemIdentifier(long sysid) {
        return Long.toUnsignedString(sysid);
    }
}
