package io.pgwarden.pg;

/** Log sequence numbers in PostgreSQL's text form, e.g. 0/3000028. */
public final class Lsn {
    private Lsn() {
    }

    public static String format(long lsn) {
        return "%X/%X".formatted(lsn >>> 32, lsn & 0xFFFF_FFFFL);
    }
}
