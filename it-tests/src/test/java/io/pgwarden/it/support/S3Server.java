package io.pgwarden.it.support;

import java.net.URI;
import java.util.Properties;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.blobstore.BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real S3 server in-process (S3Proxy over an in-memory store, or a directory with -Dbench.s3.dir). It can be stopped and started again on the
 * same port with the same content, to play an S3 outage.
 */
public final class S3Server implements AutoCloseable {
    public static final String ACCESS_KEY = "pgwarden-test-access";
    public static final String SECRET_KEY = "pgwarden-test-secret-key-0123456789";

    private final BlobStore store;
    /** Keys the server has handed out in listings: what a reader of the repository made it list. */
    private final java.util.concurrent.atomic.AtomicLong keysListed = new java.util.concurrent.atomic.AtomicLong();
    /** GETs of a byte range: how many, being answered now, the most at once. */
    private final java.util.concurrent.atomic.AtomicInteger rangedGetsInFlight = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger mostRangedGetsAtOnce = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicLong rangedGets = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong multipartUploadsStarted = new java.util.concurrent.atomic.AtomicLong();
    /** A distant S3's limits (slowGets): time before a GET answers, bytes per second each response carries (0: none). */
    private volatile java.time.Duration getLatency = java.time.Duration.ZERO;
    private volatile long getBytesPerSecond;
    /** A lying server (answersContentRange): what its ranged answers say they hold. */
    private volatile java.util.function.UnaryOperator<String> contentRangeRewrite;
    private int port;
    private String host = "127.0.0.1";
    private S3Proxy proxy;
    /** A PKCS#12 key store: the server speaks HTTPS only, with its certificate. */
    private java.nio.file.Path keyStore;
    private String keyStorePassword;

    public S3Server() {
        Properties props = new Properties();
        props.setProperty("jclouds.identity", ACCESS_KEY);
        props.setProperty("jclouds.credential", SECRET_KEY);
        // Benchmarks of large databases (-Dbench.s3.dir=DIR): objects on disk, not in this JVM's heap.
        String dir = System.getProperty("bench.s3.dir");
        if (dir != null) {
            try {
                java.nio.file.Files.createDirectories(java.nio.file.Path.of(dir));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            props.setProperty("jclouds.filesystem.basedir", dir);
        }
        this.store = BlobStores.create(dir == null ? "transient-nio2" : "filesystem-nio2", props);
    }

    public S3Server start() throws Exception {
        return start("127.0.0.1");
    }

    /** Listening on every interface: containers reach it through the Docker host's gateway (host.docker.internal). */
    public S3Server startForContainers() throws Exception {
        return start("0.0.0.0");
    }

    /** HTTPS only, with the certificate and key in a PKCS#12 key store (a server behind a private CA). */
    public S3Server startSecure(java.nio.file.Path pkcs12, String password) throws Exception {
        keyStore = pkcs12;
        keyStorePassword = password;
        return start("127.0.0.1");
    }

    /**
     * HTTPS only, with a certificate for 127.0.0.1 issued by a new private CA made in {@code dir} (a self-hosted S3
     * server): the CA is returned, to be trusted through repository.s3.caCertificate ({@link #repositoryYaml(String, String, Path)}).
     */
    public Certificates.Ca startBehindPrivateCa(java.nio.file.Path dir, String caName) throws Exception {
        return startBehindPrivateCa(dir, caName, "127.0.0.1");
    }

    /** As above, listening on (and certified for) one address of this host, e.g. a veth pair's end. */
    public Certificates.Ca startBehindPrivateCa(java.nio.file.Path dir, String caName, String address) throws Exception {
        Certificates.Ca ca = Certificates.ca(dir, caName);
        Certificates.Issued cert = Certificates.issue(ca, dir, "s3", "IP:" + address + (address.equals("127.0.0.1") ? ",DNS:localhost" : ""));
        java.nio.file.Path p12 = dir.resolve("s3.p12");
        Processes.checked(Processes.run(java.util.List.of("openssl", "pkcs12", "-export", "-in", cert.certificate().toString(), "-inkey",
                cert.key().toString(), "-out", p12.toString(), "-passout", "pass:s3-keystore"), dir), "openssl pkcs12");
        keyStore = p12;
        keyStorePassword = "s3-keystore";
        start(address);
        return ca;
    }

    private S3Server start(String bind) throws Exception {
        var builder = S3Proxy.builder()
                .blobStore(new org.gaul.s3proxy.blobstore.ForwardingBlobStore(store) {
                    @Override
                    public software.amazon.awssdk.services.s3.model.ListObjectsV2Response list(
                            software.amazon.awssdk.services.s3.model.ListObjectsV2Request request) {
                        var page = super.list(request);
                        keysListed.addAndGet(page.contents().size());
                        return page;
                    }

                    @Override
                    public org.gaul.s3proxy.blobstore.domain.MultipartUpload initiateMultipartUpload(
                            software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest request) {
                        multipartUploadsStarted.incrementAndGet();
                        return super.initiateMultipartUpload(request);
                    }

                    @Override
                    public software.amazon.awssdk.core.ResponseInputStream<software.amazon.awssdk.services.s3.model.GetObjectResponse> getBlob(
                            software.amazon.awssdk.services.s3.model.GetObjectRequest request) {
                        boolean ranged = request.range() != null;
                        if (ranged) {
                            rangedGets.incrementAndGet();
                            mostRangedGetsAtOnce.accumulateAndGet(rangedGetsInFlight.incrementAndGet(), Math::max);
                        }
                        try {
                            Thread.sleep(getLatency.toMillis());
                            var answer = super.getBlob(request);
                            var rewrite = contentRangeRewrite;
                            if (answer != null && rewrite != null && answer.response().contentRange() != null) {
                                answer = new software.amazon.awssdk.core.ResponseInputStream<>(answer.response().toBuilder()
                                        .contentRange(rewrite.apply(answer.response().contentRange())).build(), answer);
                            }
                            long rate = getBytesPerSecond;
                            return answer == null || rate <= 0 ? answer
                                    : new software.amazon.awssdk.core.ResponseInputStream<>(answer.response(), new Throttled(answer, rate));
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IllegalStateException(e);
                        } finally {
                            if (ranged) rangedGetsInFlight.decrementAndGet();
                        }
                    }
                })
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .ignoreUnknownHeaders(true);
        if (keyStore != null) {
            builder.secureEndpoint(URI.create("https://" + bind + ":" + port)).keyStore(keyStore.toString(), keyStorePassword);
        } else {
            builder.endpoint(URI.create("http://" + bind + ":" + port));
        }
        // Restarted on its port (an outage in a test), the port may still be held for a moment by what stood in for
        // it (BlackHole's connections being reset): retry the bind, briefly.
        for (long bindDeadline = System.currentTimeMillis() + 15_000; ; Thread.sleep(200)) {
            proxy = builder.build();
            try {
                proxy.start();
                break;
            } catch (java.io.IOException e) {
                try {
                    proxy.stop();
                } catch (Exception alreadyDown) {
                    // it never started
                }
                if (port == 0 || !(e.getCause() instanceof java.net.BindException) || System.currentTimeMillis() > bindDeadline) throw e;
            }
        }
        long deadline = System.currentTimeMillis() + 30_000;
        while (!"STARTED".equals(proxy.getState())) {
            if (System.currentTimeMillis() > deadline) throw new IllegalStateException("S3Proxy did not start: " + proxy.getState());
            Thread.sleep(20);
        }
        port = keyStore != null ? proxy.getSecurePort() : proxy.getPort();
        host = bind.equals("0.0.0.0") ? "127.0.0.1" : bind;
        return this;
    }

    public void stop() throws Exception {
        if (proxy != null) proxy.stop();
        proxy = null;
    }

    /**
     * Makes GETs behave like a distant S3's (a latency injector, since loopback has none): each waits {@code latency}
     * before it answers and its body flows at most {@code bytesPerSecond} (0: unlimited), as one connection to S3 does.
     */
    public S3Server slowGets(java.time.Duration latency, long bytesPerSecond) {
        getLatency = latency;
        getBytesPerSecond = bytesPerSecond;
        return this;
    }

    /**
     * Makes this server lie in the Content-Range of its ranged answers (a hostile or broken S3): each header is
     * replaced by what {@code rewrite} makes of it; the bytes sent stay those asked for.
     */
    public S3Server answersContentRange(java.util.function.UnaryOperator<String> rewrite) {
        contentRangeRewrite = rewrite;
        return this;
    }

    /** The most GETs of a byte range this server was answering at once (waiting out {@link #slowGets} included). */
    public int mostRangedGetsAtOnce() {
        return mostRangedGetsAtOnce.get();
    }

    /** How many multipart uploads were started. */
    public long multipartUploadsStarted() {
        return multipartUploadsStarted.get();
    }

    /** How many GETs asked for a byte range. */
    public long rangedGets() {
        return rangedGets.get();
    }

    /** A body that flows at most {@code rate} bytes per second. */
    private static final class Throttled extends java.io.FilterInputStream {
        private final long rate;
        private final long start = System.nanoTime();
        private long sent;

        Throttled(java.io.InputStream in, long rate) {
            super(in);
            this.rate = rate;
        }

        @Override
        public int read() throws java.io.IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws java.io.IOException {
            int n = super.read(b, off, Math.min(len, 64 << 10));
            if (n > 0) {
                sent += n;
                long due = start + sent * 1_000_000_000L / rate;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    try {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new java.io.InterruptedIOException();
                    }
                }
            }
            return n;
        }
    }

    /** How many keys this server has returned in object listings so far (every page of every listing). */
    public long keysListed() {
        return keysListed.get();
    }

    public URI endpoint() {
        return URI.create((keyStore != null ? "https" : "http") + "://" + host + ":" + port);
    }

    public int port() {
        return port;
    }

    public S3Client client() {
        return S3Client.builder().endpointOverride(endpoint()).region(Region.US_EAST_1).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY))).build();
    }

    /** Straight in the store: works whatever the endpoint's TLS. */
    public void createBucketInStore(String bucket) {
        store.createContainer(bucket);
    }

    /** Writes an object straight into the store, with user metadata, also while the server is stopped. */
    public void putInStore(String bucket, String key, byte[] content, java.util.Map<String, String> metadata) {
        store.putBlob(software.amazon.awssdk.services.s3.model.PutObjectRequest.builder().bucket(bucket).key(key)
                .contentLength((long) content.length).metadata(metadata).build(), new java.io.ByteArrayInputStream(content));
    }

    /** An object's user metadata, read straight from the store; empty if there is no such object. */
    public java.util.Optional<java.util.Map<String, String>> metadataInStore(String bucket, String key) {
        var blob = store.blobMetadataIfPresent(bucket, key);
        return blob == null ? java.util.Optional.empty() : java.util.Optional.of(blob.metadata());
    }

    public void createBucket(String bucket) {
        try (S3Client s3 = client()) {
            s3.createBucket(b -> b.bucket(bucket));
        }
    }

    /** The repository section of a pgwarden config for this server. */
    public String repositoryYaml(String bucket, String prefix) {
        return """
                repository:
                  type: s3
                  s3:
                    endpoint: "%s"
                    bucket: %s
                    prefix: %s
                    region: us-east-1
                    pathStyle: true
                    accessKey: %s
                    secretKey: %s
                    maxAttempts: 2
                    requestTimeout: 10s
                """.formatted(endpoint(), bucket, prefix, ACCESS_KEY, SECRET_KEY);
    }

    /** The repository section for this server behind a private CA, trusted through caCertificate only. */
    public String repositoryYaml(String bucket, String prefix, java.nio.file.Path caCertificate) {
        return repositoryYaml(bucket, prefix) + "    caCertificate: " + caCertificate + "\n";
    }

    @Override
    public void close() throws Exception {
        stop();
    }
}
