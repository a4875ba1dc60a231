package io.pgwarden.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgwarden.error.PgwardenException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestSlotsTest {
    @Test
    void aClusterHoldsAtMostItsShareAndTheOthersKeepTheRest() {
        RequestSlots slots = new RequestSlots(4, 2, List.of("a", "b"), Duration.ofMillis(50));
        RequestSlots.Permit a1 = slots.acquire("a", "WAL file 'a1'");
        slots.acquire("a", "WAL file 'a2'");
        assertThatThrownBy(() -> slots.acquire("a", "WAL file 'a3'")).isInstanceOf(PgwardenException.class)
                .hasMessage("too many WAL requests of cluster 'a' in flight (2, server.maxConcurrentPushesPerCluster); WAL file 'a3' was not"
                        + " served, retry");
        slots.acquire("b", "WAL file 'b1'");
        RequestSlots.Permit b2 = slots.acquire("b", "WAL file 'b2'");
        a1.close();
        // Every slot of the daemon is taken now only once both clusters hold their shares.
        slots.acquire("a", "WAL file 'a4'");
        b2.close();
        slots.acquire("b", "WAL file 'b3'");
        assertThatThrownBy(() -> slots.acquire("b", "WAL file 'b4'")).hasMessageContaining("of cluster 'b'");
        assertThatThrownBy(() -> slots.acquire("a", "WAL file 'a5'")).hasMessageContaining("of cluster 'a'");
    }

    @Test
    void theDaemonsBoundHoldsWhenSharesAddUpToMore() {
        RequestSlots slots = new RequestSlots(2, 2, List.of("a", "b"), Duration.ofMillis(50));
        RequestSlots.Permit a1 = slots.acquire("a", "WAL file 'a1'");
        slots.acquire("b", "WAL file 'b1'");
        assertThatThrownBy(() -> slots.acquire("b", "WAL file 'b2'")).isInstanceOf(PgwardenException.class)
                .hasMessage("too many WAL requests in flight (2, server.maxConcurrentPushes); WAL file 'b2' was not served, retry");
        // The refused request gave its cluster slot back: b takes its second once the daemon has one free.
        a1.close();
        assertThat(slots.acquire("b", "WAL file 'b3'")).isNotNull();
    }
}
