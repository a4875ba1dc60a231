package io.pgwarden.jobs;

import com.fasterxml.jackson.annotation.JsonValue;

/** Where a run is: running, then succeeded or failed (the API shows the lowercase names). */
public enum JobState {
    RUNNING, SUCCEEDED, FAILED;

    @JsonValue
    public String label() {
        return name().toLowerCase();
    }
}
