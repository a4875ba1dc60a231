package io.pgwarden.runner;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * The environment a child process (pg_dump, pg_basebackup, a restored postmaster, psql) starts with: only what
 * locates programs and sets language and time, never the daemon's own (its S3 keys, tokens, PGWARDEN_* settings).
 * What a tool needs beyond that (PGPASSWORD, PGHOST, ...) the caller adds explicitly.
 */
public final class ChildEnvironment {
    private static final Pattern KEPT = Pattern.compile("PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR");

    private ChildEnvironment() {
    }

    /** Clears the builder's inherited environment down to the kept names; returns the builder. */
    public static ProcessBuilder minimal(ProcessBuilder builder) {
        Map<String, String> env = builder.environment();
        env.keySet().removeIf(name -> !KEPT.matcher(name).matches());
        env.putIfAbsent("PATH", "/usr/local/bin:/usr/bin:/bin");
        return builder;
    }
}
