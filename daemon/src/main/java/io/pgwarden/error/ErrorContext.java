package io.pgwarden.error;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where an error happened, as fields rather than prose: which cluster, which repository object, which run. Each is
 * null when not known. The message still says it in words; these let the HTTP and CLI layers (and a log search)
 * show it the same way.
 */
public record ErrorContext(String cluster, String objectKey, String runId) {
    public static final ErrorContext NONE = new ErrorContext(null, null, null);

    /** This context with the blanks filled from {@code outer}: the innermost (most specific) value wins. */
    ErrorContext orElse(ErrorContext outer) {
        return new ErrorContext(cluster != null ? cluster : outer.cluster, objectKey != null ? objectKey : outer.objectKey,
                runId != null ? runId : outer.runId);
    }

    /** The known fields by name, in a stable order: cluster, object, run. */
    public Map<String, String> fields() {
        Map<String, String> fields = new LinkedHashMap<>();
        if (cluster != null) fields.put("cluster", cluster);
        if (objectKey != null) fields.put("object", objectKey);
        if (runId != null) fields.put("run", runId);
        return fields;
    }
}
