package io.pgwarden.error;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ErrorReportTest {
    @Test
    void theInnermostContextWinsAndOuterLayersFillTheBlanks() {
        PgwardenException e = PgwardenException.integrity("repository object 'main/wal/x' has SHA-256 …").forObject("main/wal/x");
        e.inCluster("main").inRun("R1").forObject("main/base/other").inCluster("other");

        assertThat(e.context()).isEqualTo(new ErrorContext("main", "main/wal/x", "R1"));
        assertThat(ErrorReport.fields(e)).isEqualTo("code INTEGRITY, cluster main, object main/wal/x, run R1");
        assertThat(ErrorReport.headers(e)).containsExactly(java.util.Map.entry("Pgwarden-Error-Code", "INTEGRITY"),
                java.util.Map.entry("Pgwarden-Cluster", "main"), java.util.Map.entry("Pgwarden-Object", "main/wal/x"),
                java.util.Map.entry("Pgwarden-Run", "R1"));
    }

    @Test
    void noControlCharacterOrNonAsciiReachesAHeaderOrALine() {
        PgwardenException e = PgwardenException.notFound("no such cluster").inCluster("ma\r\nX-Injected: 1\u00e9");

        assertThat(ErrorReport.headers(e).get("Pgwarden-Cluster")).isEqualTo("ma??X-Injected: 1?");
        assertThat(ErrorReport.fields(e)).doesNotContain("\n").doesNotContain("\r");
    }

    @Test
    void anErrorWithoutContextReportsItsCodeOnly() {
        PgwardenException e = new PgwardenException(ErrorCode.USAGE, "--target-dir is required");

        assertThat(e.context().fields()).isEmpty();
        assertThat(ErrorReport.headers(e)).containsOnlyKeys("Pgwarden-Error-Code");
    }
}
