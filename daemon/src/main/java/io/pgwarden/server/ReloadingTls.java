package io.pgwarden.server;

import io.pgwarden.config.TlsConfig;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.tls.PemFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * The endpoint's TLS: TLS 1.2 and 1.3 only, the certificate and key from PEM files, re-read when their content
 * changes (certbot and cert-manager replace them in place). A new pair is used for new connections only once it
 * reads and matches; connections already open (a push in flight) keep theirs. A half-written rotation (the new
 * certificate with the old key) is skipped until both files agree.
 */
final class ReloadingTls implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ReloadingTls.class);
    static final Duration POLL = Duration.ofSeconds(2);
    private static final char[] IN_MEMORY = "pgwarden".toCharArray();

    private final TlsConfig config;
    private final SslContextFactory.Server factory = new SslContextFactory.Server();
    private final ScheduledExecutorService poller;
    private byte[] loadedDigest;

    ReloadingTls(TlsConfig config) {
        this.config = config;
        factory.setIncludeProtocols("TLSv1.3", "TLSv1.2");
        factory.setKeyStore(keyStore(load()));
        factory.setKeyStorePassword(new String(IN_MEMORY));
        factory.setKeyManagerPassword(new String(IN_MEMORY));
        config.clientCa().ifPresent(ca -> {
            factory.setTrustStore(trustStore(ca));
            factory.setNeedClientAuth(true);
        });
        loadedDigest = digest();
        poller = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("tls-reload").unstarted(r));
        poller.scheduleWithFixedDelay(this::reloadIfChanged, POLL.toMillis(), POLL.toMillis(), TimeUnit.MILLISECONDS);
    }

    SslContextFactory.Server factory() {
        return factory;
    }

    /** Checks the files without serving them (check-config). */
    static void check(TlsConfig config) {
        new Pair(config).read();
        config.clientCa().ifPresent(ReloadingTls::trustStore);
    }

    private Pair.Loaded load() {
        return new Pair(config).read();
    }

    private void reloadIfChanged() {
        try {
            byte[] now = digest();
            if (Arrays.equals(now, loadedDigest)) return;
            Pair.Loaded pair;
            try {
                pair = load();
            } catch (PgwardenException e) {
                log.warn("the TLS certificate files changed but cannot be used yet; still serving the previous certificate: {}", e.getMessage());
                return;
            }
            factory.reload(f -> f.setKeyStore(keyStore(pair)));
            loadedDigest = now;
            log.info("TLS certificate reloaded from '{}': {}, valid until {}", config.certificate(),
                    pair.chain().getFirst().getSubjectX500Principal().getName(), pair.chain().getFirst().getNotAfter().toInstant());
        } catch (Exception e) {
            log.warn("cannot reload the TLS certificate from '{}': {}", config.certificate(), e.toString());
        }
    }

    private byte[] digest() {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(Files.readAllBytes(config.certificate()));
            sha.update(Files.readAllBytes(config.privateKey()));
            return sha.digest();
        } catch (IOException e) {
            return loadedDigest; // mid-replacement: try again at the next poll
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static KeyStore keyStore(Pair.Loaded pair) {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("pgwarden", pair.key(), IN_MEMORY, pair.chain().toArray(X509Certificate[]::new));
            return ks;
        } catch (GeneralSecurityException | IOException e) {
            throw new PgwardenException(ErrorCode.CONFIG, "server.tls: cannot build a key store: " + e.getMessage(), e);
        }
    }

    private static KeyStore trustStore(Path ca) {
        try {
            return PemFiles.trustStore(ca);
        } catch (PemFiles.PemException e) {
            throw new PgwardenException(ErrorCode.CONFIG, "server.tls.clientCa: " + e.getMessage());
        }
    }

    /** The certificate chain and its key, read together and checked to belong together. */
    private record Pair(TlsConfig config) {
        record Loaded(List<X509Certificate> chain, PrivateKey key) {
        }

        Loaded read() {
            try {
                List<X509Certificate> chain = PemFiles.certificates(config.certificate());
                PrivateKey key = PemFiles.privateKey(config.privateKey());
                if (!PemFiles.matches(key, chain.getFirst())) {
                    throw new PgwardenException(ErrorCode.CONFIG, "server.tls: the private key in '" + config.privateKey()
                            + "' does not belong to the certificate in '" + config.certificate() + "'");
                }
                return new Loaded(chain, key);
            } catch (PemFiles.PemException e) {
                throw new PgwardenException(ErrorCode.CONFIG, "server.tls: " + e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        poller.shutdownNow();
    }
}
