package io.pgwarden.error;

import java.util.LinkedHashMap;
import java.util.Map;

/** How an error is shown, the same from every entry point: the message, then its code and context as fields. */
public final class ErrorReport {
    /** HTTP response headers carrying the fields beside the text body (which stays the message alone). */
    public static final String CODE_HEADER = "Pgwarden-Error-Code";

    private ErrorReport() {
    }

    /** e.g. "code INTEGRITY, cluster main, object main/wal/…, run 20261202T…" (the CLI prints it under the message). */
    public static String fields(PgwardenException e) {
        StringBuilder line = new StringBuilder("code " + e.code().name());
        e.context().fields().forEach((name, value) -> line.append(", ").append(name).append(' ').append(printable(value)));
        return line.toString();
    }

    /** Pgwarden-Error-Code, Pgwarden-Cluster, Pgwarden-Object, Pgwarden-Run: what is known of them. */
    public static Map<String, String> headers(PgwardenException e) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(CODE_HEADER, e.code().name());
        e.context().fields().forEach((name, value) -> headers.put("Pgwarden-" + Character.toUpperCase(name.charAt(0)) + name.substring(1),
                printable(value)));
        return headers;
    }

    /** Names come from configs, requests and repository listings: nothing but visible ASCII goes into a header or a line. */
    static String printable(String value) {
        StringBuilder out = new StringBuilder(value.length());
        value.codePoints().forEach(c -> out.append(c >= 0x20 && c < 0x7f ? (char) c : '?'));
        return out.toString();
    }
}
