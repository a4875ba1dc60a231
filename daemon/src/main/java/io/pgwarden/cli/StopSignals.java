package io.pgwarden.cli;

import java.util.concurrent.CountDownLatch;
import sun.misc.Signal;

/**
 * TERM and INT handled rather than left to shutdown hooks: a JVM ended by a signal exits 143, and systemd, container
 * runtimes and a terminal's Ctrl-C should see a clean stop as 0. The latch opens on the first of them.
 */
final class StopSignals {
    private StopSignals() {
    }

    static CountDownLatch install() {
        CountDownLatch stop = new CountDownLatch(1);
        Signal.handle(new Signal("TERM"), s -> stop.countDown());
        Signal.handle(new Signal("INT"), s -> stop.countDown());
        return stop;
    }
}
