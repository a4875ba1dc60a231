package io.pgwarden.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * A position in the YAML tree that knows its key path, so every problem can be reported as
 * {@code clusters.main.walToken: ...}. Problems are collected, not thrown, so check-config shows them all.
 */
final class ConfigNode {
    private final JsonNode json;
    private final String path;
    private final List<String> problems;
    private final Interpolator interpolator;

    ConfigNode(JsonNode json, String path, List<String> problems, Interpolator interpolator) {
        this.json = json;
        this.path = path;
        this.problems = problems;
        this.interpolator = interpolator;
    }

    String path() {
        return path;
    }

    String keyPath(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    boolean isPresent() {
        return json != null && !json.isMissingNode() && !json.isNull();
    }

    void problem(String key, String message) {
        problems.add(keyPath(key) + ": " + message);
    }

    void problem(String message) {
        problems.add((path.isEmpty() ? "(top level)" : path) + ": " + message);
    }

    /** The child mapping at key; reported if present but not a mapping. Absent children are empty nodes. */
    ConfigNode mapping(String key) {
        JsonNode child = isPresent() ? json.get(key) : null;
        if (child != null && !child.isNull() && !child.isObject()) {
            problem(key, "must be a mapping of keys to values");
            child = null;
        }
        return new ConfigNode(child, keyPath(key), problems, interpolator);
    }

    /** Each entry of a mapping, as nodes, in file order. */
    Map<String, ConfigNode> entries() {
        Map<String, ConfigNode> out = new java.util.LinkedHashMap<>();
        if (!isPresent()) return out;
        for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isObject()) {
                problem(e.getKey(), "must be a mapping of keys to values");
                continue;
            }
            out.put(e.getKey(), new ConfigNode(e.getValue(), keyPath(e.getKey()), problems, interpolator));
        }
        return out;
    }

    /** Reports every key not in the allowed set: a typo must not silently become a default. */
    void allowOnly(String... keys) {
        if (!isPresent() || !json.isObject()) return;
        Set<String> allowed = new LinkedHashSet<>(List.of(keys));
        List<String> unknown = new ArrayList<>();
        json.fieldNames().forEachRemaining(k -> {
            if (!allowed.contains(k)) unknown.add(k);
        });
        for (String k : unknown) problem(k, "unknown key (allowed here: " + String.join(", ", allowed) + ")");
    }

    /** A scalar as text with ${env:..}/${file:..} resolved; empty if absent or unresolvable (then reported). */
    Optional<String> string(String key) {
        if (!isPresent()) return Optional.empty();
        JsonNode v = json.get(key);
        if (v == null || v.isNull()) return Optional.empty();
        if (!v.isValueNode()) {
            problem(key, "must be a single value, not a " + (v.isArray() ? "list" : "mapping"));
            return Optional.empty();
        }
        String resolved = interpolator.resolve(v.asText(), message -> problem(key, message));
        return Optional.ofNullable(resolved);
    }

    /** A list of mappings, each a node (e.g. checks: [{sql: ..., expect: ...}]); problems for anything else. */
    List<ConfigNode> mappingList(String key) {
        List<ConfigNode> out = new ArrayList<>();
        if (!has(key)) return out;
        JsonNode v = json.get(key);
        if (!v.isArray()) {
            problem(key, "must be a list");
            return out;
        }
        for (int i = 0; i < v.size(); i++) {
            if (!v.get(i).isObject()) problem(key + "[" + i + "]", "must be a mapping of keys to values");
            else out.add(new ConfigNode(v.get(i), keyPath(key) + "[" + i + "]", problems, interpolator));
        }
        return out;
    }

    /** A list of scalars (a single scalar counts as a list of one), each with ${..} resolved. */
    Optional<List<String>> stringList(String key) {
        if (!has(key)) return Optional.empty();
        JsonNode v = json.get(key);
        if (v.isValueNode()) return string(key).map(List::of);
        if (!v.isArray()) {
            problem(key, "must be a list of values");
            return Optional.empty();
        }
        List<String> out = new ArrayList<>();
        for (JsonNode item : v) {
            if (!item.isValueNode()) {
                problem(key, "must be a list of single values");
                return Optional.empty();
            }
            String resolved = interpolator.resolve(item.asText(), message -> problem(key, message));
            if (resolved != null) out.add(resolved);
        }
        return Optional.of(out);
    }

    String requiredString(String key) {
        Optional<String> v = string(key);
        if (v.isEmpty() && !has(key)) problem(key, "is required");
        return v.orElse(null);
    }

    boolean has(String key) {
        return isPresent() && json.has(key) && !json.get(key).isNull();
    }

    /** Parses a scalar with a parser that throws IllegalArgumentException carrying the explanation. */
    <T> Optional<T> parsed(String key, Function<String, T> parser) {
        return string(key).flatMap(text -> {
            try {
                return Optional.of(parser.apply(text.trim()));
            } catch (IllegalArgumentException e) {
                problem(key, e.getMessage());
                return Optional.empty();
            }
        });
    }

    Optional<Boolean> bool(String key) {
        return parsed(key, text -> switch (text) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("'" + text + "' is not a boolean (true or false)");
        });
    }

    Optional<Integer> integer(String key, int min, int max) {
        return parsed(key, text -> {
            int value;
            try {
                value = Integer.parseInt(text);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + text + "' is not a whole number");
            }
            if (value < min || value > max) {
                throw new IllegalArgumentException(value + " is out of range (" + min + " to " + max + ")");
            }
            return value;
        });
    }
}
