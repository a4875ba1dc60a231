package io.pgwarden.repository;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.pgwarden.storage.StorageDriver;
import java.io.ByteArrayInputStream;
import java.util.Map;

/** The one JSON mapping for repository documents (cluster.json, manifests, records): ISO-8601 times, indented. */
public final class RepositoryJson {
    public static final ObjectMapper MAPPER = new ObjectMapper().registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS).enable(SerializationFeature.INDENT_OUTPUT);

    private RepositoryJson() {
    }

    /** Stores a small document (manifest, record) as one object. */
    public static void write(StorageDriver storage, String key, Object value) {
        try {
            storage.put(key, new ByteArrayInputStream(MAPPER.writeValueAsBytes(value)), Map.of());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + value.getClass().getSimpleName(), e);
        }
    }
}
