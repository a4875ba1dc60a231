package io.pgwarden.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class RestoreTimeTest {
    @Test
    void acceptsIsoAndPostgresqlSpellingsWithAZone() {
        assertThat(RestoreCommand.parseTime("2026-11-25T03:15:00Z")).isEqualTo(Instant.parse("2026-11-25T03:15:00Z"));
        assertThat(RestoreCommand.parseTime("2026-11-25 04:15:00+01:00")).isEqualTo(Instant.parse("2026-11-25T03:15:00Z"));
        assertThat(RestoreCommand.parseTime("2026-11-25 03:15:00.25+00")).isEqualTo(Instant.parse("2026-11-25T03:15:00.25Z"));
    }

    @Test
    void refusesATimeWithoutAZoneAndNonsense() {
        assertThatThrownBy(() -> RestoreCommand.parseTime("2026-11-25 03:15:00"))
                .hasMessage("--target-time '2026-11-25 03:15:00' has no time zone; add one, e.g. '2026-11-25 03:15:00Z' or '2026-11-25 03:15:00+01:00'");
        assertThatThrownBy(() -> RestoreCommand.parseTime("yesterday"))
                .hasMessage("--target-time 'yesterday' is not an ISO-8601 time with a zone (e.g. 2026-11-25T03:15:00Z)");
    }
}
