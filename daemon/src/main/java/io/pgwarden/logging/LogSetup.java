package io.pgwarden.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.List;

/**
 * Logback's configuration, in code (found through Logback's Configurator service): configuring from XML loaded about
 * 370 classes of Logback's configuration machinery into every process, for an appender and six levels.
 * <p>Logs go to stderr: stdout belongs to command output (check-config, list, ...). PGWARDEN_LOG_FORMAT picks the
 * encoder: "text" for the journal, "json" (one object per line) for containers; bin/pgwarden refuses any other value.
 * PGWARDEN_LOG_LEVEL sets the root level (INFO if unset or not a level).
 */
public final class LogSetup extends ContextAwareBase implements Configurator {
    /**
     * Held at WARN whatever PGWARDEN_LOG_LEVEL says: at DEBUG these log secrets. docker-java logs each container's
     * create command with its environment (PGPASSWORD); the HTTP clients (Apache HttpClient 4 under the AWS SDK, 5
     * under docker-java) log wire traffic, headers and bodies; Jetty logs request headers (bearer tokens).
     */
    static final List<String> QUIET = List.of("software.amazon.awssdk", "org.apache.http", "org.apache.hc", "com.github.dockerjava",
            "org.eclipse.jetty");

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        // A test JVM (S3Proxy, in-process daemons) keeps its own logback-test.xml.
        if (LogSetup.class.getClassLoader().getResource("logback-test.xml") != null) return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        Encoder<ILoggingEvent> encoder = "json".equals(setting("PGWARDEN_LOG_FORMAT")) ? json() : new TextEncoder();
        encoder.setContext(context);
        encoder.start();
        ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
        appender.setContext(context);
        appender.setName(encoder instanceof JsonEncoder ? "json" : "text");
        appender.setTarget("System.err");
        appender.setEncoder(encoder);
        appender.start();
        for (String name : QUIET) context.getLogger(name).setLevel(Level.WARN);
        var root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(setting("PGWARDEN_LOG_LEVEL"), Level.INFO));
        root.addAppender(appender);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    private static JsonEncoder json() {
        JsonEncoder json = new JsonEncoder();
        json.setWithSequenceNumber(false);
        json.setWithNanoseconds(false);
        json.setWithContext(false);
        json.setWithArguments(false);
        json.setWithFormattedMessage(true);
        json.setWithMessage(false);
        return json;
    }

    /** A system property (tests) or else the environment (the launcher). */
    private static String setting(String name) {
        String value = System.getProperty(name);
        return value != null ? value : System.getenv(name);
    }
}
