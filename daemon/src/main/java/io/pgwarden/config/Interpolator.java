package io.pgwarden.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Replaces {@code ${env:NAME}} and {@code ${file:PATH}} in config values, so secrets stay out of the config file.
 * A file's trailing whitespace (its final newline) is dropped.
 */
final class Interpolator {
    private static final Pattern REFERENCE = Pattern.compile("\\$\\{([a-z]*):([^}]*)}");

    private final Map<String, String> environment;

    Interpolator(Map<String, String> environment) {
        this.environment = environment;
    }

    /** Returns the value with every reference resolved, or null after reporting each unresolvable one. */
    String resolve(String value, Consumer<String> problem) {
        Matcher m = REFERENCE.matcher(value);
        StringBuilder out = new StringBuilder();
        boolean ok = true;
        while (m.find()) {
            String resolved = switch (m.group(1)) {
                case "env" -> environment(m.group(2), problem);
                case "file" -> file(m.group(2), problem);
                default -> {
                    problem.accept("unknown reference '${" + m.group(1) + ":...}' (use ${env:NAME} or ${file:PATH})");
                    yield null;
                }
            };
            if (resolved == null) {
                ok = false;
                continue;
            }
            m.appendReplacement(out, Matcher.quoteReplacement(resolved));
        }
        m.appendTail(out);
        return ok ? out.toString() : null;
    }

    private String environment(String name, Consumer<String> problem) {
        String value = environment.get(name);
        if (value == null) problem.accept("environment variable '" + name + "' is not set");
        return value;
    }

    private static String file(String name, Consumer<String> problem) {
        Path path = Path.of(name);
        if (!Files.exists(path)) {
            problem.accept("file '" + name + "' does not exist");
            return null;
        }
        try {
            return Files.readString(path, StandardCharsets.UTF_8).stripTrailing();
        } catch (IOException | SecurityException e) {
            problem.accept("file '" + name + "' cannot be read: " + e.getMessage());
            return null;
        }
    }
}
