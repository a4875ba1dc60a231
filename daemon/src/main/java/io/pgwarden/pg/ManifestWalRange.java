package io.pgwarden.pg;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One entry of a backup manifest's "WAL-Ranges": the WAL a backup needs on one timeline. The range that ends last is
 * the backup's stop point; on a standby, where no backup history file is written, it is the only record of it.
 */
public record ManifestWalRange(int timeline, long startLsn, long endLsn) {
    private static final Pattern RANGE = Pattern.compile(
            "\\{\\s*\"Timeline\"\\s*:\\s*(\\d+)\\s*,\\s*\"Start-LSN\"\\s*:\\s*\"([0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})\"\\s*,"
                    + "\\s*\"End-LSN\"\\s*:\\s*\"([0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})\"\\s*}");

    /** The range that ends last among those in {@code manifestText} (the end of a manifest is enough). */
    public static Optional<ManifestWalRange> last(String manifestText) {
        int ranges = manifestText.lastIndexOf("\"WAL-Ranges\"");
        if (ranges < 0) return Optional.empty();
        Matcher m = RANGE.matcher(manifestText);
        m.region(ranges, manifestText.length());
        ManifestWalRange last = null;
        while (m.find()) {
            ManifestWalRange r = new ManifestWalRange(Integer.parseInt(m.group(1)), Lsn.parse(m.group(2)), Lsn.parse(m.group(3)));
            if (last == null || Long.compareUnsigned(r.endLsn, last.endLsn) > 0) last = r;
        }
        return Optional.ofNullable(last);
    }
}
