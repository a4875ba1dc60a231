package io.pgwarden.storage;

import io.pgwarden.error.PgwardenException;

/** Guards the one invariant every driver relies on: a key cannot climb out of the repository. */
final class Keys {
    private Keys() {
    }

    static String check(String key) {
        if (key.isEmpty() || key.startsWith("/") || key.contains("\\") || key.contains("\0")) {
            throw PgwardenException.badRequest("invalid object key '" + key + "'");
        }
        for (String part : key.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..") || part.startsWith(".")) {
                throw PgwardenException.badRequest("invalid object key '" + key + "'");
            }
        }
        return key;
    }

    /** A listing prefix may end in '/' or in part of a name, but may not climb either. */
    static String checkPrefix(String prefix) {
        if (prefix.isEmpty()) return prefix;
        int slash = prefix.lastIndexOf('/');
        if (slash >= 0) check(prefix.substring(0, slash));
        String tail = prefix.substring(slash + 1);
        if (tail.startsWith(".") || tail.contains("\\")) throw PgwardenException.badRequest("invalid key prefix '" + prefix + "'");
        return prefix;
    }
}
