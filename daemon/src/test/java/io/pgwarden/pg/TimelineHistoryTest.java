package io.pgwarden.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TimelineHistoryTest {
    private static final long SEG = 16L << 20;
    // As PostgreSQL writes it: timeline 3 branched from 2 at 0/5000000 (a segment boundary), 2 from 1 inside segment 3.
    private static final TimelineHistory THREE = TimelineHistory.parse(3, """
            1\t0/3000A28\tno recovery target specified

            2\t0/5000000\tat restore point "before-upgrade"
            """, "00000003.history");

    @Test
    void readsAncestorsOldestFirst() {
        assertThat(THREE.ancestors()).containsExactly(new TimelineHistory.Switch(1, 0x3000A28L), new TimelineHistory.Switch(2, 0x5000000L));
        assertThat(THREE.endOf(1)).isEqualTo(0x3000A28L);
        assertThat(THREE.endOf(3)).isEqualTo(Long.MAX_VALUE);
        assertThat(THREE.endOf(4)).isEqualTo(-1);
    }

    @Test
    void theSegmentHoldingASwitchPointBelongsToTheNewTimeline() {
        assertThat(THREE.timelineOfSegment(2 * SEG, SEG)).isEqualTo(1);
        assertThat(THREE.timelineOfSegment(3 * SEG, SEG)).isEqualTo(2); // holds 0/3000A28
        assertThat(THREE.timelineOfSegment(4 * SEG, SEG)).isEqualTo(2);
        assertThat(THREE.timelineOfSegment(5 * SEG, SEG)).isEqualTo(3); // starts exactly at the switch
    }

    @Test
    void rejectsAnUnreadableLine() {
        assertThatThrownBy(() -> TimelineHistory.parse(2, "1\tnot-an-lsn\tx\n", "00000002.history"))
                .hasMessage("00000002.history: unreadable line '1\tnot-an-lsn\tx'");
    }
}
