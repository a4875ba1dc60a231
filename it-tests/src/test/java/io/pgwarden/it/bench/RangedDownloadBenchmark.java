package io.pgwarden.it.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.config.S3Config;
import io.pgwarden.config.Secret;
import io.pgwarden.it.support.Certificates;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.S3Server;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.storage.ChunkPool;
import io.pgwarden.storage.S3Storage;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Reading a large backup object whole, as a restore does: pgwarden's S3 storage with 1, 2, 4 and 8 ranges in flight
 * against one curl GET of the same object (the baseline), over HTTPS to S3Proxy, in two settings: loopback as it is,
 * and S3Proxy's GETs made to behave like a distant S3's (25 ms before each answers, each response carrying at most 80
 * MB/s, as one connection to S3 does). 256 MiB of random bytes (a compressed, encrypted backup looks like that). Best
 * of two runs each; report in it-tests/target/bench/ranged-download.txt.
 * <pre>cd it-tests && ../mvnw -B verify -Pbench -Dtest=RangedDownloadBenchmark -Dsurefire.failIfNoSpecifiedTests=false</pre>
 */
@Tag("benchmark")
class RangedDownloadBenchmark {
    private static final long SIZE = 256L << 20;
    private static final int[] STREAMS = {1, 2, 4, 8};

    @Test
    void aLargeObjectReadWholeWithRangesInFlightAgainstOneCurlGet() throws Exception {
        Path dir = TestDirs.create("pgwarden-ranged-bench-");
        StringBuilder report = new StringBuilder("""
                Reading a 256 MiB object whole (random bytes, as a compressed or encrypted backup), S3Proxy over HTTPS on this
                machine (2 cores); best of two runs each; "distant": each GET answers after 25 ms and carries at most 80 MB/s
                """);
        try (S3Server s3 = new S3Server()) {
            Certificates.Ca ca = s3.startBehindPrivateCa(dir, "bench-ca");
            s3.createBucketInStore("bench");
            try (S3Storage writer = storage(s3, ca, 1)) {
                writer.put("backup.tar.zst", new RandomBytes(SIZE), Map.of());
            }
            for (boolean distant : new boolean[] {false, true}) {
                s3.slowGets(distant ? Duration.ofMillis(25) : Duration.ZERO, distant ? 80_000_000 : 0);
                double curl = best(() -> curlGet(s3, ca));
                report.append(distant ? "distant S3 (latency and rate per GET injected)\n" : "loopback\n");
                report.append("  curl, one GET (baseline)              %7.1f MB/s%n".formatted(mbps(curl)));
                for (int streams : STREAMS) {
                    double seconds = best(() -> read(s3, ca, streams));
                    report.append("  pgwarden, %d range%s in flight          %7.1f MB/s   %.2fx curl%n".formatted(streams, streams == 1 ? " " : "s",
                            mbps(seconds), curl / seconds));
                }
            }
        } finally {
            TestDirs.delete(dir);
        }
        System.out.print(report);
        Files.createDirectories(Path.of("target/bench"));
        Files.writeString(Path.of("target/bench/ranged-download.txt"), report);
    }

    private static S3Storage storage(S3Server s3, Certificates.Ca ca, int streams) {
        return new S3Storage(new S3Config(Optional.of(s3.endpoint()), "bench", "", "us-east-1", true,
                Optional.of(new Secret(S3Server.ACCESS_KEY)), Optional.of(new Secret(S3Server.SECRET_KEY)), 2, 16L << 20,
                Duration.ofSeconds(60), Optional.empty(), Optional.of(ca.certificate()), streams), new ChunkPool(32L << 20));
    }

    /** Seconds to read the object whole through pgwarden's storage with {@code streams} ranges in flight (1: one GET). */
    private static double read(S3Server s3, Certificates.Ca ca, int streams) throws Exception {
        try (S3Storage storage = storage(s3, ca, streams)) {
            long start = System.nanoTime();
            long read;
            try (var object = storage.getWhole("backup.tar.zst").orElseThrow()) {
                read = object.content().transferTo(java.io.OutputStream.nullOutputStream());
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(read).isEqualTo(SIZE);
            return seconds;
        }
    }

    private static double curlGet(S3Server s3, Certificates.Ca ca) {
        long start = System.nanoTime();
        var r = Processes.run(List.of("curl", "--fail", "-sS", "-o", "/dev/null", "--cacert", ca.certificate().toString(),
                "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", S3Server.ACCESS_KEY + ":" + S3Server.SECRET_KEY,
                "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", s3.endpoint() + "/bench/backup.tar.zst"), null);
        double seconds = (System.nanoTime() - start) / 1e9;
        Processes.checked(r, "curl GET");
        return seconds;
    }

    private interface Run {
        double seconds() throws Exception;
    }

    private static double best(Run run) throws Exception {
        List<Double> times = new ArrayList<>();
        for (int i = 0; i < 2; i++) times.add(run.seconds());
        return times.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
    }

    private static double mbps(double seconds) {
        return SIZE / 1e6 / seconds;
    }

    /** {@code size} bytes of a seeded generator, without holding them. */
    private static final class RandomBytes extends InputStream {
        private final java.util.SplittableRandom random = new java.util.SplittableRandom(42);
        private long left;

        RandomBytes(long size) {
            left = size;
        }

        @Override
        public int read() {
            if (left <= 0) return -1;
            left--;
            return random.nextInt(256);
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (left <= 0) return -1;
            int n = (int) Math.min(len, left);
            for (int i = 0; i < n; i += 8) {
                long v = random.nextLong();
                for (int j = 0; j < 8 && i + j < n; j++) b[off + i + j] = (byte) (v >>> (8 * j));
            }
            left -= n;
            return n;
        }
    }
}
