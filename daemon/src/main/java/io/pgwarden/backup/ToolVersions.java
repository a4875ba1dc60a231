package io.pgwarden.backup;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads "pg_basebackup (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" as major version 15. */
final class ToolVersions {
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\) (\\d+)");

    private ToolVersions() {
    }

    static int major(String versionOutput) {
        Matcher m = VERSION.matcher(versionOutput);
        if (!m.find()) throw new IllegalArgumentException("cannot read a PostgreSQL version from '" + versionOutput + "'");
        return Integer.parseInt(m.group(1));
    }
}
