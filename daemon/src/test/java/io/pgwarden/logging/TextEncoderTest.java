package io.pgwarden.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TextEncoderTest {
    private final LoggerContext context = new LoggerContext();

    @Test
    void printsTimeLevelThreadShortLoggerAndTheFormattedMessageOnOneLine() {
        LoggingEvent event = new LoggingEvent("x", context.getLogger("io.pgwarden.archive.WalArchiver"), Level.WARN,
                "stored '{}' ({} bytes)", null, new Object[] {"000000010000000000000003", 42});
        event.setThreadName("push-7");
        event.setTimeStamp(1_764_768_000_123L);
        String line = encode(event);
        assertThat(line).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.123(Z|[+-]\\d\\d:\\d\\d) WARN  \\[push-7\\] WalArchiver:"
                + " stored '000000010000000000000003' \\(42 bytes\\)\n");
    }

    @Test
    void followsTheLineWithTheStackTraceAndItsCause() {
        var failure = new IllegalStateException("outer", new java.io.IOException("disk full"));
        LoggingEvent event = new LoggingEvent("x", context.getLogger("io.pgwarden.jobs.JobEngine"), Level.ERROR, "job failed", failure, null);
        event.setThreadName("main");
        String text = encode(event);
        assertThat(text.lines().findFirst().orElseThrow()).endsWith(" ERROR [main] JobEngine: job failed");
        assertThat(text).contains("java.lang.IllegalStateException: outer", "\tat io.pgwarden.logging.TextEncoderTest",
                "Caused by: java.io.IOException: disk full").endsWith("\n");
    }

    private String encode(LoggingEvent event) {
        TextEncoder encoder = new TextEncoder();
        encoder.setContext(context);
        encoder.start();
        return new String(encoder.encode(event), StandardCharsets.UTF_8);
    }
}
