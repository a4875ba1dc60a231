package io.pgwarden.error;

/** Helpers for error messages an operator reads. */
public final class Errors {
    private Errors() {
    }

    /** Whether {@code error} is, or was caused at any depth by, an instance of {@code type}. */
    public static boolean causedBy(Throwable error, Class<? extends Throwable> type) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (type.isInstance(t)) return true;
        }
        return false;
    }

    /** The message plus, when a library wrapped it, the innermost cause (where the real reason usually is). */
    public static String withRootCause(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        return root == t ? String.valueOf(t.getMessage())
                : t.getMessage() + " (" + root.getClass().getSimpleName() + ": " + root.getMessage() + ")";
    }
}
