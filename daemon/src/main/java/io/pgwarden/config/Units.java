package io.pgwarden.config;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Sizes ("64MiB", "1GB" as in postgresql.conf: binary multiples) and durations ("30s", "5m", "2h", "14d"). */
final class Units {
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kKMGT]i?B|B)?");
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");

    private Units() {
    }

    static long parseSize(String text) {
        Matcher m = SIZE.matcher(text);
        if (!m.matches()) throw new IllegalArgumentException("'" + text + "' is not a size (e.g. 16MiB, 1GiB, 1048576)");
        long value = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "B" : m.group(2).replace("i", "").toUpperCase(Locale.ROOT);
        int shift = switch (unit) {
            case "B" -> 0;
            case "KB" -> 10;
            case "MB" -> 20;
            case "GB" -> 30;
            case "TB" -> 40;
            default -> throw new IllegalArgumentException("'" + text + "' has an unknown unit");
        };
        if (value > (Long.MAX_VALUE >> shift)) throw new IllegalArgumentException("'" + text + "' is too large");
        return value << shift;
    }

    static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text);
        if (!m.matches()) throw new IllegalArgumentException("'" + text + "' is not a duration (e.g. 30s, 5m, 2h, 14d)");
        long v = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(v);
            case "s" -> Duration.ofSeconds(v);
            case "m" -> Duration.ofMinutes(v);
            case "h" -> Duration.ofHours(v);
            default -> Duration.ofDays(v);
        };
    }
}
