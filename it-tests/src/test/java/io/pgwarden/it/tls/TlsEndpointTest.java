package io.pgwarden.it.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgwarden.it.support.Certificates;
import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.PgwardenFixture;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The endpoint over TLS as operators run it: PostgreSQL's archive_command and restore_command with curl --cacert,
 * a certificate replaced in place while a push is in flight, client certificates under clientCa, and the config
 * refusing a public address in clear. Certificates come from openssl, as from a private CA.
 */
class TlsEndpointTest {
    private static final byte[] HISTORY = "1\t0/5000000\tno recovery target specified\n".getBytes(StandardCharsets.UTF_8);
    Path dir;
    Certificates.Ca ca;
    Certificates.Issued server;

    @BeforeEach
    void certificates() {
        dir = TestDirs.create("pgwarden-tls-");
        ca = Certificates.ca(dir, "test-ca");
        server = Certificates.issue(ca, dir, "pgwarden-server");
    }

    @AfterEach
    void cleanUp() {
        TestDirs.delete(dir);
    }

    String tlsYaml(String extra) {
        return "tls: {certificate: " + server.certificate() + ", privateKey: " + server.key() + extra + "}\n";
    }

    Processes.Result curl(String... args) {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "20"));
        cmd.addAll(List.of(args));
        return Processes.run(cmd, dir);
    }

    @Test
    void postgresArchivesAndRestoresThroughTlsAndPlainHttpIsRefused() throws Exception {
        try (PgCluster source = PgCluster.init(dir, "source", 16)) {
            String cluster = "connection: {host: 127.0.0.1, port: " + source.port() + ", user: postgres}\nrunner: {type: process}\n"
                    + "restoreTest: {scratchDir: " + dir.resolve("scratch") + ", timeout: 5m, checks: [{sql: \"SELECT count(*) FROM t\", expect: \"1000\"}]}\n";
            try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")), tlsYaml(""), cluster)) {
                String url = "https://127.0.0.1:" + pgwarden.daemon().port();
                source.configure("archive_mode = on", "archive_command = 'curl --fail -sS --cacert " + ca.certificate() + " -H @"
                        + dir.resolve("auth-header") + " -T %p " + url + "/v1/clusters/main/wal/%f'").start();
                source.query("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g");
                pgwarden.baseBackup();
                source.awaitArchived(source.query("SELECT pg_walfile_name(pg_switch_wal())"), Duration.ofMinutes(1));

                // restore_command through the daemon: curl with the daemon's certificate as the trust anchor.
                Path target = dir.resolve("restored");
                var restore = pgwarden.cli("restore", "--latest", "--restore-command", "daemon", "--target-dir", target.toString());
                assertThat(restore.exitCode()).as(restore.stderr()).isZero();
                assertThat(Files.readString(target.resolve("postgresql.auto.conf"))).contains("--cacert " + server.certificate()).contains("https://127.0.0.1:");
                // The restored server (user postgres) reads the token from the header file the restore wrote beside it.
                Processes.checked(Processes.run(List.of("chown", "-R", "postgres:postgres", target.toString(),
                        dir.resolve("restored.pgwarden-auth-header").toString()), null), "chown");
                try (PgCluster copy = PgCluster.existing(dir, target, "restored")) {
                    copy.configure("archive_mode = off").start();
                    await().atMost(Duration.ofMinutes(2)).until(() -> copy.query("SELECT pg_is_in_recovery()").equals("f"));
                    assertThat(copy.query("SELECT count(*) FROM t")).isEqualTo("1000");
                }
                // A test restore fetches its WAL through the same https endpoint.
                JsonNode run = pgwarden.startAndAwait("/v1/clusters/main/restore-tests", null, "/v1/clusters/main/runs/", Duration.ofMinutes(3));
                assertThat(run.get("state").asText()).as(run.toString()).isEqualTo("succeeded");

                // Plain HTTP on the TLS port: no answer, nothing stored.
                Files.writeString(dir.resolve("h"), new String(HISTORY, StandardCharsets.UTF_8));
                var plain = curl("--fail", "-H", "@" + dir.resolve("auth-header"), "-T", dir.resolve("h").toString(),
                        "http://127.0.0.1:" + pgwarden.daemon().port() + "/v1/clusters/main/wal/00000002.history");
                assertThat(plain.exitCode()).as(plain.stdout()).isNotZero();
                assertThat(pgwarden.walKeys()).noneMatch(k -> k.contains("00000002.history"));
                var untrusted = curl("--fail", "https://127.0.0.1:" + pgwarden.daemon().port() + "/health");
                assertThat(untrusted.exitCode()).as("a client that does not trust the CA").isEqualTo(60);
            }
        }
    }

    @Test
    void aReplacedCertificateIsServedToTheNextConnectionWhileAPushInFlightCompletes() throws Exception {
        try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")),
                tlsYaml("") + "bodyIdleTimeout: 60s")) {
            int port = pgwarden.daemon().port();
            BigInteger before = servedSerial(port);
            try (SSLSocket push = open(port)) {
                OutputStream out = push.getOutputStream();
                out.write(("PUT /v1/clusters/main/wal/00000002.history HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + PgwardenFixture.TOKEN
                        + "\r\nContent-Length: " + HISTORY.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(HISTORY, 0, 10);
                out.flush();

                // certbot's way: new files moved over the old ones; the key in PKCS#1, as cert-manager writes it.
                Certificates.Issued renewed = Certificates.issue(ca, Files.createDirectories(dir.resolve("renewed")), "pgwarden-server");
                Path pkcs1 = Certificates.pkcs1(renewed.key(), dir.resolve("renewed/pkcs1.key"));
                assertThat(Files.readString(pkcs1)).startsWith("-----BEGIN RSA PRIVATE KEY-----");
                Files.move(pkcs1, server.key(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                Files.move(renewed.certificate(), server.certificate(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                BigInteger after = readSerial(server.certificate());
                assertThat(after).isNotEqualTo(before);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).until(() -> servedSerial(port).equals(after));

                out.write(HISTORY, 10, HISTORY.length - 10);
                out.flush();
                String answer = new String(push.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                assertThat(answer).startsWith("HTTP/1.1 201 ");
            }
            // The fixture's own client trusts the old certificate file; curl trusts the CA.
            var fetched = curl("--fail", "--cacert", ca.certificate().toString(), "-H", "@" + dir.resolve("auth-header"),
                    "https://127.0.0.1:" + port + "/v1/clusters/main/wal/00000002.history");
            assertThat(fetched.exitCode()).as(fetched.stderr()).isZero();
            assertThat(fetched.stdout()).isEqualTo(new String(HISTORY, StandardCharsets.UTF_8));
        }
    }

    @Test
    void underClientCaOnlyClientsWithACertificateFromThatCaGetIn() throws Exception {
        Certificates.Ca clients = Certificates.ca(dir, "client-ca");
        Certificates.Issued client = Certificates.issue(clients, dir, "archiver");
        Certificates.Ca stranger = Certificates.ca(dir, "other-ca");
        Certificates.Issued strangers = Certificates.issue(stranger, dir, "stranger");
        Files.writeString(dir.resolve("h"), new String(HISTORY, StandardCharsets.UTF_8));
        try (PgwardenFixture pgwarden = PgwardenFixture.start(dir, PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo")),
                tlsYaml(", clientCa: " + clients.certificate()))) {
            String url = "https://127.0.0.1:" + pgwarden.daemon().port() + "/v1/clusters/main/wal/00000002.history";
            List<String> push = List.of("--fail", "--cacert", ca.certificate().toString(), "-H", "@" + dir.resolve("auth-header"),
                    "-T", dir.resolve("h").toString(), url);
            assertThat(curl(push.toArray(String[]::new)).exitCode()).as("no client certificate").isNotZero();
            List<String> wrongCa = new ArrayList<>(List.of("--cert", strangers.certificate().toString(), "--key", strangers.key().toString()));
            wrongCa.addAll(push);
            assertThat(curl(wrongCa.toArray(String[]::new)).exitCode()).as("a certificate from another CA").isNotZero();
            assertThat(pgwarden.repositoryKeys("main/")).noneMatch(k -> k.contains("00000002.history"));

            List<String> withCert = new ArrayList<>(List.of("--cert", client.certificate().toString(), "--key", client.key().toString()));
            withCert.addAll(push);
            var ok = curl(withCert.toArray(String[]::new));
            assertThat(ok.exitCode()).as(ok.stderr()).isZero();
            // The certificate is on top of the token, not instead of it.
            var noToken = curl("-o", "/dev/null", "-w", "%{http_code}", "--cert", client.certificate().toString(), "--key", client.key().toString(),
                    "--cacert", ca.certificate().toString(), url);
            assertThat(noToken.stdout()).isEqualTo("401");
        }
    }

    @Test
    void aPublicAddressInClearIsAConfigErrorUnlessTheOperatorSaysSo() throws Exception {
        String repo = PgwardenFixture.filesystemRepositoryYaml(dir.resolve("repo"));
        Path clear = PgwardenFixture.writeConfig(Files.createDirectories(dir.resolve("clear")), "0.0.0.0:8420", repo, "", "");
        var refused = Launcher.run("check-config", "--config", clear.toString());
        assertThat(refused.exitCode()).isEqualTo(2);
        assertThat(refused.stdout()).contains("server.listen: '0.0.0.0' is not a loopback address, and without server.tls");

        Path allowed = PgwardenFixture.writeConfig(Files.createDirectories(dir.resolve("allowed")), "0.0.0.0:8420", repo, "allowPlaintext: true", "");
        assertThat(Launcher.run("check-config", "--config", allowed.toString()).stdout()).isEqualTo("OK\n");
        Path tls = PgwardenFixture.writeConfig(Files.createDirectories(dir.resolve("tls")), "0.0.0.0:8420", repo, tlsYaml(""), "");
        assertThat(Launcher.run("check-config", "--config", tls.toString()).stdout()).isEqualTo("OK\n");

        Path mismatched = PgwardenFixture.writeConfig(Files.createDirectories(dir.resolve("mismatch")), "127.0.0.1:8420", repo,
                "tls: {certificate: " + server.certificate() + ", privateKey: " + ca.key() + "}", "");
        var mismatch = Launcher.run("check-config", "--config", mismatched.toString());
        assertThat(mismatch.exitCode()).isEqualTo(2);
        assertThat(mismatch.stdout()).contains("the private key in '" + ca.key() + "' does not belong to the certificate in '" + server.certificate() + "'");
    }

    private SSLSocket open(int port) throws Exception {
        SSLSocket socket = (SSLSocket) Certificates.trusting(ca.certificate()).getSocketFactory().createSocket("127.0.0.1", port);
        socket.setSoTimeout(30_000);
        socket.startHandshake();
        return socket;
    }

    private BigInteger servedSerial(int port) throws Exception {
        try (SSLSocket s = open(port)) {
            return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }

    private static BigInteger readSerial(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return ((X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in)).getSerialNumber();
        }
    }
}
