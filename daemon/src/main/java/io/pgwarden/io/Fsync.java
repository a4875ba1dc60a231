package io.pgwarden.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Durability steps shared by everything that renames a file into place and must find it after a crash. */
public final class Fsync {
    private Fsync() {
    }

    /** Makes a directory's entries (a file created or renamed into it) durable. */
    public static void directory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
