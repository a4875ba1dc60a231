package io.pgwarden.pg;

import java.util.List;
import java.util.OptionalLong;

/**
 * What a backup needs to know about the running server.
 * @param versionNum       server_version_num, e.g. 150018
 * @param systemIdentifier empty when the role may not read pg_control_system()
 * @param walSegmentSize   bytes per WAL segment
 * @param tablespaces      user tablespaces (name and location); pg_default and pg_global are not listed
 */
public record ServerInfo(int versionNum, OptionalLong systemIdentifier, long walSegmentSize, List<String> tablespaces) {
    public ServerInfo {
        tablespaces = List.copyOf(tablespaces);
    }

    public int major() {
        return versionNum / 10000;
    }
}
