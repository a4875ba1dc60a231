package io.pgwarden.it.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Test CAs and certificates made with the openssl command line (as an operator would make a private CA). */
public final class Certificates {
    private Certificates() {
    }

    /** A CA: {@code name.crt} and {@code name.key} in dir. */
    public record Ca(Path certificate, Path key) {
    }

    /** A certificate signed by a CA, and its key. */
    public record Issued(Path certificate, Path key) {
    }

    public static Ca ca(Path dir, String name) {
        Path crt = dir.resolve(name + ".crt");
        Path key = dir.resolve(name + ".key");
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(), "-out", crt.toString(), "-days", "3",
                "-subj", "/CN=" + name);
        return new Ca(crt, key);
    }

    /** A server certificate for 127.0.0.1 and localhost (or a client certificate: the SAN does no harm). */
    public static Issued issue(Ca ca, Path dir, String name) {
        return issue(ca, dir, name, "IP:127.0.0.1,DNS:localhost");
    }

    /** @param subjectAltNames e.g. {@code DNS:pgwarden,IP:127.0.0.1} */
    public static Issued issue(Ca ca, Path dir, String name, String subjectAltNames) {
        Path key = dir.resolve(name + ".key");
        Path csr = dir.resolve(name + ".csr");
        Path crt = dir.resolve(name + ".crt");
        Path ext = dir.resolve(name + ".ext");
        try {
            Files.writeString(ext, "subjectAltName=" + subjectAltNames + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(), "-out", csr.toString(), "-subj", "/CN=" + name);
        openssl(dir, "x509", "-req", "-in", csr.toString(), "-CA", ca.certificate().toString(), "-CAkey", ca.key().toString(),
                "-CAcreateserial", "-days", "3", "-extfile", ext.toString(), "-out", crt.toString());
        return new Issued(crt, key);
    }

    /** The key rewritten as PKCS#1 ("BEGIN RSA PRIVATE KEY"), cert-manager's default encoding. */
    public static Path pkcs1(Path key, Path out) {
        openssl(key.getParent(), "rsa", "-traditional", "-in", key.toString(), "-out", out.toString());
        return out;
    }

    /** An SSL context trusting the certificates in a PEM file (a CA, or a server's own chain). */
    public static javax.net.ssl.SSLContext trusting(Path pem) {
        try {
            return io.pgwarden.tls.PemFiles.clientContext(pem);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static void openssl(Path dir, String... args) {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Processes.checked(Processes.run(cmd, dir), "openssl " + args[0]);
    }
}
