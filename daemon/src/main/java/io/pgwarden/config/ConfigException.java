package io.pgwarden.config;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.util.List;

/** Every problem found in a configuration, each prefixed with its key path. */
public class ConfigException extends PgwardenException {
    private final List<String> problems;

    public ConfigException(List<String> problems) {
        super(ErrorCode.CONFIG, "invalid configuration: " + String.join("; ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
