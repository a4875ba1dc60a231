package io.pgwarden.it.bench;

import io.pgwarden.it.support.Processes;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a benchmark's database host sits relative to its S3 server. {@link #loopback()}: everything on this host's
 * loopback (no limit but the cores). {@link #shaped(String)}: the database host's processes (daemon, pgBackRest, curl)
 * run in a network namespace and reach S3 over a veth pair whose both directions a token bucket (tc tbf) limits to
 * the given rate, e.g. "1gbit": a link where compression pays. Traffic stays on this machine.
 */
final class Network implements AutoCloseable {
    private static final String NS = "pgwbench";
    private static final String HOST_IF = "pgwb-h";
    private static final String NS_IF = "pgwb-n";

    private final String rate;

    private Network(String rate) {
        this.rate = rate;
    }

    static Network loopback() {
        return new Network(null);
    }

    /** Sets up the namespace and the shaped link (root; replaces one a killed run left). */
    static Network shaped(String rate) {
        run("ip", "netns", "del", NS); // a previous run's, if any; its veth goes with it
        for (List<String> step : List.of(
                List.of("ip", "netns", "add", NS),
                List.of("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF),
                List.of("ip", "link", "set", NS_IF, "netns", NS),
                List.of("ip", "addr", "add", "10.231.0.1/24", "dev", HOST_IF),
                List.of("ip", "link", "set", HOST_IF, "up"),
                List.of("ip", "netns", "exec", NS, "ip", "addr", "add", "10.231.0.2/24", "dev", NS_IF),
                List.of("ip", "netns", "exec", NS, "ip", "link", "set", NS_IF, "up"),
                List.of("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up"),
                List.of("tc", "qdisc", "add", "dev", HOST_IF, "root", "tbf", "rate", rate, "burst", "512kb", "latency", "50ms"),
                List.of("ip", "netns", "exec", NS, "tc", "qdisc", "add", "dev", NS_IF, "root", "tbf", "rate", rate, "burst", "512kb",
                        "latency", "50ms"))) {
            Processes.checked(Processes.run(step, null), String.join(" ", step));
        }
        return new Network(rate);
    }

    /** From the system property bench.link (e.g. -Dbench.link=1gbit); loopback without it. */
    static Network fromProperty() {
        String link = System.getProperty("bench.link", "");
        return link.isBlank() ? loopback() : shaped(link);
    }

    boolean isShaped() {
        return rate != null;
    }

    /** Where the S3 server listens (and its certificate's address). */
    String s3Address() {
        return isShaped() ? "10.231.0.1" : "127.0.0.1";
    }

    /** Where the database host's daemon listens; reachable from this JVM too. */
    String dbHostAddress() {
        return isShaped() ? "10.231.0.2" : "127.0.0.1";
    }

    /** A command as it runs on the database host. */
    List<String> onDbHost(List<String> command) {
        if (!isShaped()) return command;
        List<String> wrapped = new ArrayList<>(List.of("ip", "netns", "exec", NS));
        wrapped.addAll(command);
        return wrapped;
    }

    String describe() {
        return isShaped() ? "S3Proxy behind a " + rate + "/s link (veth pair, tc tbf both ways)" : "S3Proxy on loopback";
    }

    private static Processes.Result run(String... command) {
        return Processes.run(List.of(command), null);
    }

    @Override
    public void close() {
        if (isShaped()) run("ip", "netns", "del", NS);
    }
}
