package io.pgwarden.runner;

import java.io.IOException;
import java.io.InputStream;

/** Reads a tool's stdout as it is produced (e.g. into compression and upload). Should read to the end. */
@FunctionalInterface
public interface StdoutConsumer {
    void consume(InputStream stdout) throws IOException;
}
