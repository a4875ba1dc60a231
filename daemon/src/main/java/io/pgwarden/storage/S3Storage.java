package io.pgwarden.storage;

import io.pgwarden.config.S3Config;
import io.pgwarden.config.Secret;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.Errors;
import io.pgwarden.error.PgwardenException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * An S3-compatible bucket (AWS SDK v2, synchronous client). Content of unknown length is sent as one PUT when it
 * fits in one part, otherwise as a multipart upload that is aborted on any failure, so nothing partial is ever
 * visible. The SDK retries 5xx, throttling and I/O errors with backoff, up to maxAttempts.
 */
public final class S3Storage implements StorageDriver {
    private static final Logger log = LoggerFactory.getLogger(S3Storage.class);
    private static final ExecutorService PART_UPLOADS = Executors.newVirtualThreadPerTaskExecutor();

    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    private final int partSize;
    private final PartSizes partSizes;
    private final Optional<S3Config.ObjectLock> objectLock;
    private final ChunkPool buffers;
    private final StagingDir staging;
    private final int downloadStreams;

    /** With the default part schedule and larger parts staged in the system's temporary directory. */
    public S3Storage(S3Config config, ChunkPool buffers) {
        this(config, buffers, StagingDir.temporary(), PartSizes.of(config.partSize()));
    }

    /**
     * @param buffers   where parts of the configured size are held while they are read and sent; room for at least one
     * @param staging   where the larger parts of very large objects are held instead
     * @param partSizes the size of each part of an upload
     */
    public S3Storage(S3Config config, ChunkPool buffers, StagingDir staging, PartSizes partSizes) {
        if (buffers.capacityBytes() < config.partSize()) {
            throw new IllegalArgumentException("a pool of " + buffers.capacityBytes() + " bytes cannot hold a part of " + config.partSize());
        }
        if (partSizes.base() != config.partSize()) throw new IllegalArgumentException("part schedule does not start at partSize");
        this.buffers = buffers;
        this.staging = staging;
        this.partSizes = partSizes;
        this.bucket = config.bucket();
        this.prefix = config.prefix();
        this.partSize = (int) Math.min(config.partSize(), Integer.MAX_VALUE - 16);
        this.objectLock = config.objectLock();
        this.downloadStreams = config.downloadStreams();
        ApacheHttpClient.Builder http = ApacheHttpClient.builder()
                .maxConnections(64)
                .connectionTimeout(Duration.ofSeconds(5))
                .socketTimeout(config.requestTimeout());
        config.caCertificate().ifPresent(ca -> http.tlsTrustManagersProvider(trusting(ca)));
        var builder = S3Client.builder()
                .region(Region.of(config.region()))
                .forcePathStyle(config.pathStyle())
                .credentialsProvider(credentials(config))
                .httpClientBuilder(http)
                .overrideConfiguration(o -> o
                        .retryStrategy(r -> r.maxAttempts(config.maxAttempts()))
                        .apiCallAttemptTimeout(config.requestTimeout()));
        config.endpoint().ifPresent(builder::endpointOverride);
        this.s3 = builder.build();
    }

    /** repository.s3.caCertificate: the server's certificate must chain to these CAs (a private CA), not the JVM's. */
    private static software.amazon.awssdk.http.TlsTrustManagersProvider trusting(java.nio.file.Path ca) {
        try {
            javax.net.ssl.TrustManager[] managers = io.pgwarden.tls.PemFiles.trustManagers(ca);
            return () -> managers;
        } catch (io.pgwarden.tls.PemFiles.PemException e) {
            throw new PgwardenException(io.pgwarden.error.ErrorCode.CONFIG, "repository.s3.caCertificate: " + e.getMessage());
        }
    }

    private static AwsCredentialsProvider credentials(S3Config config) {
        if (config.accessKey().isPresent() && config.secretKey().isPresent()) {
            return StaticCredentialsProvider.create(AwsBasicCredentials.create(
                    config.accessKey().map(Secret::value).get(), config.secretKey().map(Secret::value).get()));
        }
        return DefaultCredentialsProvider.builder().build();
    }

    @Override
    public void put(String key, InputStream content, Map<String, String> metadata) {
        streamPut(key, content, metadata, false);
    }

    private void streamPut(String key, InputStream content, Map<String, String> metadata, boolean onlyIfAbsent) {
        String objectKey = objectKey(key);
        byte[] head;
        PooledPart first;
        try {
            // Small objects (manifests, history files) never wait for pooled memory; larger ones read a part into it.
            head = content.readNBytes(ChunkPool.CHUNK);
            first = head.length < ChunkPool.CHUNK ? null
                    : PooledPart.read(buffers, buffers.take(ChunkPool.chunksFor(partSize)), head, content, partSize);
        } catch (IOException e) {
            throw unreadable(key, e);
        }
        if (first == null || first.length() < partSize) {
            try {
                long length = first == null ? head.length : first.length();
                s3.putObject(b -> conditional(locked(b.bucket(bucket).key(objectKey).metadata(metadata).contentLength(length)),
                        onlyIfAbsent), first == null ? body(head) : body(first));
            } catch (SdkException e) {
                throw translate("cannot upload", key, e);
            } finally {
                if (first != null) first.release();
            }
            return;
        }
        multipartPut(key, objectKey, first, content, metadata, onlyIfAbsent);
    }

    @Override
    public void put(String key, SizedContent content, Map<String, String> metadata) {
        putSized(key, content, metadata, false);
    }

    /**
     * With If-None-Match: * (S3 answers 412 when the key exists). A server that ignores the header would overwrite,
     * so the first call probes for it; on such a server the check is a HEAD before the PUT, which only protects
     * against writers in this process (the caller serialises those), and a warning says so.
     */
    @Override
    public boolean create(String key, SizedContent content, Map<String, String> metadata) {
        if (!conditionalWritesHonoured()) {
            if (stat(key).isPresent()) return false;
            putSized(key, content, metadata, false);
            return true;
        }
        try {
            putSized(key, content, metadata, true);
            return true;
        } catch (PgwardenException e) {
            if (!(e.getCause() instanceof S3Exception s3e)) throw e;
            if (s3e.statusCode() == 412) return false;
            // 409 ConditionalRequestConflict: a concurrent write of the key decided first, or is still deciding.
            if (s3e.statusCode() == 409 && stat(key).isPresent()) return false;
            throw e;
        }
    }

    private volatile Boolean conditionalWrites;

    private boolean conditionalWritesHonoured() {
        Boolean known = conditionalWrites;
        if (known != null) return known;
        synchronized (this) {
            if (conditionalWrites == null) conditionalWrites = probeConditionalWrites();
            return conditionalWrites;
        }
    }

    /** Writes a probe object twice with If-None-Match: *; a server that honours it refuses the second with 412. */
    private boolean probeConditionalWrites() {
        String probe = "pgwarden-probe/conditional-write-" + java.util.UUID.randomUUID();
        SizedContent empty = SizedContent.of(new byte[0]);
        try {
            putSized(probe, empty, Map.of(), true);
            try {
                putSized(probe, empty, Map.of(), true);
            } catch (PgwardenException e) {
                if (e.getCause() instanceof S3Exception s3e && s3e.statusCode() == 412) return true;
                throw e;
            }
            log.warn("{} ignores conditional writes (If-None-Match: *): an archived WAL file is protected from being overwritten"
                    + " only by this daemon's own checks; several daemons pushing to one repository need a server that honours it", describe());
            return false;
        } catch (PgwardenException e) {
            if (e.getCause() instanceof S3Exception s3e && (s3e.statusCode() == 501 || s3e.statusCode() == 400)) {
                log.warn("{} refuses conditional writes ({}); falling back to a check before each write", describe(), s3e.statusCode());
                return false;
            }
            throw e;
        } finally {
            try {
                delete(probe);
            } catch (PgwardenException e) {
                log.debug("cannot delete the probe object '{}': {}", probe, e.getMessage());
            }
        }
    }

    /** The most one PUT may carry (S3's limit); sized content (WAL files, up to 1 GiB) is sent in one below it. */
    private static final long MAX_SINGLE_PUT = 5L << 30;

    /**
     * Content of known length goes in one PUT straight from its source, whatever the part size: a multipart upload
     * would copy it into upload memory and cost a WAL file of 8 MiB or more (little compressible WAL, e.g. with
     * PostgreSQL's wal_compression on) four requests instead of one.
     */
    private void putSized(String key, SizedContent content, Map<String, String> metadata, boolean onlyIfAbsent) {
        if (content.length() > MAX_SINGLE_PUT) {
            try (InputStream in = content.open()) {
                streamPut(key, in, metadata, onlyIfAbsent);
                return;
            } catch (IOException e) {
                throw unreadable(key, e);
            }
        }
        // One PUT straight from the source: the SDK re-opens it for a retry, nothing is copied.
        RequestBody body = RequestBody.fromContentProvider(() -> {
            try {
                return content.open();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, content.length(), "application/octet-stream");
        try {
            s3.putObject(b -> conditional(locked(b.bucket(bucket).key(objectKey(key)).metadata(metadata).contentLength(content.length())),
                    onlyIfAbsent), body);
        } catch (SdkException e) {
            throw translate("cannot upload", key, e);
        } catch (java.io.UncheckedIOException e) {
            throw unreadable(key, e.getCause());
        }
    }

    private static PutObjectRequest.Builder conditional(PutObjectRequest.Builder b, boolean onlyIfAbsent) {
        return onlyIfAbsent ? b.ifNoneMatch("*") : b;
    }

    private void multipartPut(String key, String objectKey, PooledPart first, InputStream content, Map<String, String> metadata,
                              boolean onlyIfAbsent) {
        String uploadId;
        try {
            uploadId = s3.createMultipartUpload(b -> {
                b.bucket(bucket).key(objectKey).metadata(metadata);
                objectLock.ifPresent(lock -> b.objectLockMode(lock.mode().name()).objectLockRetainUntilDate(retainUntil(lock)));
            }).uploadId();
        } catch (SdkException e) {
            first.release();
            throw translate("cannot start a multipart upload of", key, e);
        } catch (RuntimeException e) {
            first.release();
            throw e;
        }
        CompletableFuture<CompletedPart> inFlight = null;
        UploadPart part = first;
        try {
            List<CompletedPart> parts = new ArrayList<>();
            while (part != null) {
                int number = parts.size() + 1;
                UploadPart data = part;
                part = null;
                // One part uploads while the next is read (and so produced upstream): reading and sending overlap,
                // when the pool has room for a second part.
                inFlight = CompletableFuture.supplyAsync(() -> {
                    try {
                        return CompletedPart.builder().partNumber(number).eTag(s3.uploadPart(b -> b.bucket(bucket).key(objectKey)
                                .uploadId(uploadId).partNumber(number).contentLength(data.length()), body(data)).eTag()).build();
                    } finally {
                        data.release();
                    }
                }, PART_UPLOADS);
                if (data.length() == partSizes.sizeOf(number)) part = nextPart(key, content, inFlight, number + 1);
                parts.add(joinPart(inFlight));
                inFlight = null;
                if (part != null && part.length() == 0) {
                    part.release();
                    part = null;
                }
            }
            s3.completeMultipartUpload(b -> {
                b.bucket(bucket).key(objectKey).uploadId(uploadId).multipartUpload(m -> m.parts(parts));
                if (onlyIfAbsent) b.ifNoneMatch("*");
            });
        } catch (SdkException e) {
            abort(key, objectKey, uploadId, inFlight);
            throw translate("cannot upload", key, e);
        } catch (StagedPart.StagingException e) {
            abort(key, objectKey, uploadId, inFlight);
            throw new PgwardenException(ErrorCode.STORAGE, "cannot upload '" + describe(key) + "': " + e.getMessage(), e);
        } catch (IOException e) {
            abort(key, objectKey, uploadId, inFlight);
            throw unreadable(key, e);
        } catch (RuntimeException | Error e) {
            // Whatever went wrong (the source's own error, an interrupt), no partial object may become visible.
            abort(key, objectKey, uploadId, inFlight);
            throw e;
        } finally {
            if (part != null) part.release();
        }
    }

    /**
     * Reads the next part into pooled chunks. When the pool cannot spare a second part now, waits for the part in
     * flight to be sent (it gives its chunks back) before waiting for chunks, so this upload holds none while it waits.
     * A part larger than the configured size (beyond the first 900 parts) is staged on disk instead.
     */
    private UploadPart nextPart(String key, InputStream content, CompletableFuture<CompletedPart> inFlight, int number) throws IOException {
        if (number > PartSizes.MAX_PARTS) {
            if (content.read() < 0) return null;
            throw new PgwardenException(ErrorCode.STORAGE, "cannot upload '" + describe(key) + "': it is larger than "
                    + partSizes.maxObjectBytes() + " bytes, the most " + PartSizes.MAX_PARTS + " parts starting at partSize "
                    + partSize + " can hold");
        }
        long size = partSizes.sizeOf(number);
        if (size > partSize) return StagedPart.read(staging, content, size);
        int n = ChunkPool.chunksFor(partSize);
        List<byte[]> chunks = buffers.tryTake(n);
        if (chunks == null) {
            inFlight.exceptionally(x -> null).join();
            chunks = buffers.take(n);
        }
        return PooledPart.read(buffers, chunks, new byte[0], content, partSize);
    }

    /** Under object lock every object is written with its retain-until date (the SDK adds the checksum S3 requires). */
    private PutObjectRequest.Builder locked(PutObjectRequest.Builder b) {
        objectLock.ifPresent(lock -> b.objectLockMode(lock.mode().name()).objectLockRetainUntilDate(retainUntil(lock)));
        return b;
    }

    private static java.time.Instant retainUntil(S3Config.ObjectLock lock) {
        return java.time.Instant.now().plus(lock.period());
    }

    @Override
    public void prepare() {
        try {
            checkObjectLock();
        } catch (PgwardenException e) {
            if (e.code() == io.pgwarden.error.ErrorCode.CONFIG) throw e;
            // Not reachable now: every write carries the lock, and a bucket without it refuses them with a clear error.
            log.warn("cannot check object lock on {} yet: {}", describe(), e.getMessage());
        }
    }

    /**
     * At start-up, with objectLock configured: the bucket must have Object Lock enabled, else every write would fail
     * (or, on a server that ignores the headers, protect nothing). Rejections are configuration errors.
     */
    public void checkObjectLock() {
        if (objectLock.isEmpty()) return;
        String enabled;
        try {
            var config = s3.getObjectLockConfiguration(b -> b.bucket(bucket)).objectLockConfiguration();
            enabled = config == null ? null : config.objectLockEnabledAsString();
        } catch (S3Exception e) {
            if (e.statusCode() >= 500 && e.statusCode() != 501) throw translate("cannot read the object lock configuration of", "", e);
            String code = e.awsErrorDetails() == null ? "" : " " + e.awsErrorDetails().errorCode();
            throw new PgwardenException(ErrorCode.CONFIG, "repository.s3.objectLock is set, but " + describe() + " rejects object lock"
                    + " (GetObjectLockConfiguration answered " + e.statusCode() + code + "); create the bucket with Object Lock enabled"
                    + " or remove objectLock", e);
        } catch (SdkException e) {
            throw translate("cannot read the object lock configuration of", "", e);
        }
        if (!"Enabled".equals(enabled)) {
            throw new PgwardenException(ErrorCode.CONFIG, "repository.s3.objectLock is set, but bucket '" + bucket
                    + "' does not have Object Lock enabled (ObjectLockEnabled: " + enabled + "); create the bucket with Object Lock"
                    + " enabled or remove objectLock");
        }
    }

    private static CompletedPart joinPart(CompletableFuture<CompletedPart> upload) {
        try {
            return upload.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw e;
        }
    }

    /** Aborts after the part still in flight has ended, so it cannot land after the abort. */
    private void abort(String key, String objectKey, String uploadId, CompletableFuture<CompletedPart> inFlight) {
        if (inFlight != null) inFlight.exceptionally(x -> null).join();
        abort(key, objectKey, uploadId);
    }

    /** The source we were uploading from failed (not S3): the object was not stored. */
    private PgwardenException unreadable(String key, IOException e) {
        return new PgwardenException(ErrorCode.STORAGE, "cannot read the content for '" + describe(key) + "': " + e.getMessage(), e);
    }

    private void abort(String key, String objectKey, String uploadId) {
        try {
            s3.abortMultipartUpload(b -> b.bucket(bucket).key(objectKey).uploadId(uploadId));
        } catch (SdkException e) {
            log.warn("cannot abort multipart upload {} of '{}'; the garbage collector will remove it: {}", uploadId, describe(key), e.getMessage());
        }
    }

    private static RequestBody body(byte[] data) {
        // A content provider (not fromBytes) so a retry can replay the part without copying it.
        return RequestBody.fromContentProvider(() -> new ByteArrayInputStream(data), data.length, "application/octet-stream");
    }

    private static RequestBody body(UploadPart part) {
        return RequestBody.fromContentProvider(part::open, part.length(), "application/octet-stream");
    }

    @Override
    public Optional<ObjectInfo> stat(String key) {
        try {
            HeadObjectResponse head = s3.headObject(b -> b.bucket(bucket).key(objectKey(key)));
            return Optional.of(new ObjectInfo(key, head.contentLength(), head.metadata(), head.lastModified()));
        } catch (S3Exception e) {
            if (e.statusCode() == 404) return Optional.empty();
            throw translate("cannot stat", key, e);
        } catch (SdkException e) {
            throw translate("cannot stat", key, e);
        }
    }

    @Override
    public Optional<StoredObject> get(String key) {
        try {
            ResponseInputStream<GetObjectResponse> in = s3.getObject(b -> b.bucket(bucket).key(objectKey(key)));
            GetObjectResponse r = in.response();
            return Optional.of(new StoredObject(new ObjectInfo(key, r.contentLength(), r.metadata(), r.lastModified()), in));
        } catch (S3Exception e) {
            if (e.statusCode() == 404) return Optional.empty();
            throw translate("cannot download", key, e);
        } catch (SdkException e) {
            throw translate("cannot download", key, e);
        }
    }

    /**
     * The first range is asked with the object: its answer gives the size, metadata and ETag. Later ranges are asked
     * only of that same object (If-Match its ETag): an object replaced meanwhile fails the read instead of splicing
     * two objects' bytes. An object no larger than one range costs one GET, as {@link #get(String)}.
     */
    @Override
    public Optional<StoredObject> getWhole(String key) {
        if (downloadStreams < 2) return get(key);
        ResponseInputStream<GetObjectResponse> in;
        try {
            in = s3.getObject(b -> b.bucket(bucket).key(objectKey(key)).range("bytes=0-" + (DOWNLOAD_RANGE - 1)));
        } catch (S3Exception e) {
            if (e.statusCode() == 404) return Optional.empty();
            if (e.statusCode() == 416) return get(key); // an empty object has no byte 0 to ask for
            throw translate("cannot download", key, e);
        } catch (SdkException e) {
            throw translate("cannot download", key, e);
        }
        GetObjectResponse r = in.response();
        long size = totalSize(r.contentRange());
        if (size < 0 && r.sdkHttpResponse().statusCode() == 206) { // part of the object, but not saying which: ask for all
            in.abort();
            return get(key);
        }
        if (size > PartSizes.MAX_OBJECT) { // no S3 object is that large: a server's answer not to plan ranges by
            in.abort();
            throw new PgwardenException(ErrorCode.STORAGE, "cannot download '" + describe(key) + "': S3 answered Content-Range '"
                    + r.contentRange() + "', larger than any object may be");
        }
        if (size <= DOWNLOAD_RANGE) { // the whole object came (or, answering 200, a server that ignores ranges sent it)
            return Optional.of(new StoredObject(new ObjectInfo(key, size < 0 ? r.contentLength() : size, r.metadata(), r.lastModified()), in));
        }
        String etag = r.eTag();
        InputStream content = new RangedDownload(abortingOnClose(in), size, DOWNLOAD_RANGE, downloadStreams,
                (from, length, into) -> fetchRange(key, etag, from, length, into), "'" + describe(key) + "'");
        return Optional.of(new StoredObject(new ObjectInfo(key, size, r.metadata(), r.lastModified()), content));
    }

    /** Bytes a ranged read of a large object asks at a time: (downloadStreams + 1) x this is the memory it holds. */
    static final int DOWNLOAD_RANGE = 4 << 20;

    private void fetchRange(String key, String etag, long from, int length, byte[] into) throws IOException {
        long to = from + length - 1;
        try (ResponseInputStream<GetObjectResponse> in = s3.getObject(b -> b.bucket(bucket).key(objectKey(key))
                .range("bytes=" + from + "-" + to).ifMatch(etag))) {
            String range = in.response().contentRange();
            if (range == null || !range.startsWith("bytes " + from + "-" + to + "/")) {
                in.abort();
                throw new IOException("S3 answered range '" + range + "' when asked for bytes " + from + "-" + to);
            }
            int n = in.readNBytes(into, 0, length);
            if (n != length) throw new IOException("S3 sent " + n + " of the " + length + " bytes of the range");
        } catch (S3Exception e) {
            if (e.statusCode() == 412) {
                throw new IOException("the object was replaced while it was read (its ETag is no longer " + etag + ")", e);
            }
            throw new IOException(translate("cannot download", key, e).getMessage(), e);
        } catch (SdkException e) {
            throw new IOException(translate("cannot download", key, e).getMessage(), e);
        }
    }

    /** The object's size from a Content-Range answer ("bytes 0-4194303/123456789"); -1 without one. */
    static long totalSize(String contentRange) {
        if (contentRange == null) return -1;
        int slash = contentRange.lastIndexOf('/');
        try {
            return slash < 0 ? -1 : Long.parseLong(contentRange.substring(slash + 1).trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Closing a response read only in part drops its connection instead of reading the rest to reuse it. */
    private static InputStream abortingOnClose(ResponseInputStream<GetObjectResponse> response) {
        return new java.io.FilterInputStream(response) {
            private boolean ended;

            @Override
            public int read() throws IOException {
                int b = super.read();
                ended |= b < 0;
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                ended |= n < 0;
                return n;
            }

            @Override
            public void close() throws IOException {
                if (!ended) response.abort();
                response.close();
            }
        };
    }

    @Override
    public Stream<ObjectInfo> list(String keyPrefix) {
        return list(keyPrefix, null);
    }

    @Override
    public Stream<ObjectInfo> list(String keyPrefix, String startAfter) {
        try {
            return s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix + Keys.checkPrefix(keyPrefix))
                            .startAfter(startAfter == null ? null : prefix + startAfter)).contents().stream()
                    .map(o -> new ObjectInfo(o.key().substring(prefix.length()), o.size(), Map.of(), o.lastModified()));
        } catch (SdkException e) {
            throw translate("cannot list", keyPrefix, e);
        }
    }

    @Override
    public void delete(String key) {
        try {
            s3.deleteObject(b -> b.bucket(bucket).key(objectKey(key)));
        } catch (SdkException e) {
            throw translate("cannot delete", key, e);
        }
    }

    /** Up to 1000 keys per DeleteObjects request; a key S3 reports as not deleted fails the call, naming it. */
    @Override
    public void deleteAll(java.util.List<String> keys) {
        for (int from = 0; from < keys.size(); from += 1000) {
            var batch = keys.subList(from, Math.min(keys.size(), from + 1000)).stream()
                    .map(k -> software.amazon.awssdk.services.s3.model.ObjectIdentifier.builder().key(objectKey(k)).build()).toList();
            software.amazon.awssdk.services.s3.model.DeleteObjectsResponse response;
            try {
                response = s3.deleteObjects(b -> b.bucket(bucket).delete(d -> d.objects(batch).quiet(true)));
            } catch (SdkException e) {
                throw translate("cannot delete a batch starting with", keys.get(from), e);
            }
            if (response.hasErrors() && !response.errors().isEmpty()) {
                var first = response.errors().get(0);
                throw PgwardenException.unavailable("cannot delete repository object '" + first.key() + "' in " + describe() + ": "
                        + first.code() + " " + first.message() + " (" + response.errors().size() + " of " + batch.size() + " in the batch failed)", null);
            }
        }
    }

    @Override
    public Stream<IncompleteUpload> incompleteUploads(String keyPrefix) {
        try {
            return s3.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(prefix + Keys.checkPrefix(keyPrefix))).uploads().stream()
                    .map(u -> new IncompleteUpload(u.key().substring(prefix.length()), u.uploadId(), u.initiated()));
        } catch (SdkException e) {
            throw translate("cannot list the incomplete multipart uploads under", keyPrefix, e);
        }
    }

    @Override
    public void abort(IncompleteUpload upload) {
        try {
            s3.abortMultipartUpload(b -> b.bucket(bucket).key(objectKey(upload.key())).uploadId(upload.id()));
        } catch (S3Exception e) {
            if (e.statusCode() == 404) return; // completed or aborted meanwhile
            throw translate("cannot abort multipart upload " + upload.id() + " of", upload.key(), e);
        } catch (SdkException e) {
            throw translate("cannot abort multipart upload " + upload.id() + " of", upload.key(), e);
        }
    }

    @Override
    public void checkReachable() {
        try {
            s3.headBucket(b -> b.bucket(bucket));
        } catch (SdkException e) {
            throw translate("cannot reach bucket", "", e);
        }
    }

    @Override
    public String describe() {
        return "s3://" + bucket + "/" + prefix;
    }

    private String describe(String key) {
        return describe() + key;
    }

    @Override
    public void close() {
        s3.close();
    }

    private String objectKey(String key) {
        return prefix + Keys.check(key);
    }

    /** 5xx, throttling and connection trouble mean "try later"; other refusals are configuration problems. */
    private PgwardenException translate(String action, String key, SdkException e) {
        String where = describe(key);
        if (e instanceof S3Exception s3e) {
            int status = s3e.statusCode();
            String code = s3e.awsErrorDetails() == null ? "" : s3e.awsErrorDetails().errorCode();
            String message = action + " '" + where + "': S3 answered " + status + (code == null || code.isEmpty() ? "" : " " + code);
            if (status >= 500 || status == 429) return PgwardenException.unavailable(message, e);
            return new PgwardenException(ErrorCode.STORAGE, message, e);
        }
        if (e instanceof SdkClientException) {
            return PgwardenException.unavailable(action + " '" + where + "': " + Errors.withRootCause(e), e);
        }
        return new PgwardenException(ErrorCode.STORAGE, action + " '" + where + "': " + Errors.withRootCause(e), e);
    }
}
