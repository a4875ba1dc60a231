package io.pgwarden.it.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * CPU time spent so far, to put a path's cost beside its speed: the whole machine's (/proc/stat), some processes'
 * (/proc/PID/stat) and this JVM's, which runs S3Proxy in the benchmarks.
 */
final class MachineCpu {
    /** USER_HZ: /proc counts in ticks of 10 ms on Linux. */
    private static final long MILLIS_PER_TICK = 10;

    private MachineCpu() {
    }

    record Sample(long machineMillis, long processesMillis, long selfMillis) {
        PerFile since(Sample before, int files) {
            return new PerFile((machineMillis - before.machineMillis) / (double) files, (processesMillis - before.processesMillis) / (double) files,
                    (selfMillis - before.selfMillis) / (double) files);
        }
    }

    record PerFile(double all, double processes, double self) {
        @Override
        public String toString() {
            return "%12.0f %6.0f %4.0f".formatted(all, processes, self);
        }
    }

    static Sample sample(List<Process> processes) {
        long own = ProcessHandle.current().info().totalCpuDuration().map(java.time.Duration::toMillis).orElse(0L);
        return new Sample(busyMillis(), processes.stream().mapToLong(p -> processMillis(p.pid())).sum(), own);
    }

    /** user + nice + system + irq + softirq + steal of the "cpu" line (idle and iowait left out). */
    static long busyMillis() {
        String[] f = read(Path.of("/proc/stat")).lines().findFirst().orElseThrow().trim().split("\\s+");
        return (Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6]) + Long.parseLong(f[7])
                + Long.parseLong(f[8])) * MILLIS_PER_TICK;
    }

    /** utime + stime of a process (fields 14 and 15, counted after the command name's closing parenthesis). */
    static long processMillis(long pid) {
        String stat = read(Path.of("/proc/" + pid + "/stat"));
        if (stat.isEmpty()) return 0;
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * MILLIS_PER_TICK;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.nio.file.NoSuchFileException e) {
            return "";
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
