package io.pgwarden.pg;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The "KEY: value" lines of a backup_label file, or of the .backup history file PostgreSQL archives when a
 * backup ends (the same lines plus STOP WAL LOCATION, STOP TIME, STOP TIMELINE).
 */
public record BackupLabel(Map<String, String> fields) {

    public static BackupLabel parse(String text, String what) {
        Map<String, String> fields = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int colon = line.indexOf(": ");
            if (colon > 0) fields.put(line.substring(0, colon), line.substring(colon + 2).trim());
        }
        BackupLabel label = new BackupLabel(Map.copyOf(fields));
        label.required("START WAL LOCATION", what);
        label.required("START TIMELINE", what);
        return label;
    }

    public long startLsn() {
        return Lsn.parse(firstWord("START WAL LOCATION"));
    }

    /** The file named in "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)". */
    public String startWalFile() {
        String v = fields.get("START WAL LOCATION");
        int open = v.indexOf("(file ");
        return v.substring(open + 6, v.indexOf(')', open));
    }

    public int startTimeline() {
        return Integer.parseInt(fields.get("START TIMELINE"));
    }

    public Optional<Long> stopLsn() {
        return Optional.ofNullable(fields.get("STOP WAL LOCATION")).map(v -> Lsn.parse(v.split(" ")[0]));
    }

    public Optional<Integer> stopTimeline() {
        return Optional.ofNullable(fields.get("STOP TIMELINE")).map(Integer::parseInt);
    }

    public Optional<String> get(String key) {
        return Optional.ofNullable(fields.get(key));
    }

    /** The .backup history file this backup makes PostgreSQL archive: {startWalFile}.{offset in segment}.backup */
    public String historyFileName(long segmentSize) {
        return startWalFile() + "." + "%08X".formatted(startLsn() % segmentSize) + ".backup";
    }

    private String firstWord(String key) {
        return fields.get(key).split(" ")[0];
    }

    private void required(String key, String what) {
        if (!fields.containsKey(key)) throw new IllegalArgumentException(what + " has no '" + key + "' line");
    }
}
