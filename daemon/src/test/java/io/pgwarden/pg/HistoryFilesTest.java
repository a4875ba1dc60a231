package io.pgwarden.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class HistoryFilesTest {
    private static final long SEG = 16L << 20;

    private static byte[] text(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void acceptsTimelineHistoriesAsPostgresqlWritesThem() {
        var history = HistoryFiles.checkTimelineHistory(WalFileName.parse("00000003.history"),
                text("1\t0/3000A28\tno recovery target specified\n\n2\t0/5000000\tat restore point \"x\"\n"));
        assertThat(history.ancestors()).hasSize(2);
    }

    @Test
    void refusesTimelineHistoriesPostgresqlCouldNotHaveWritten() {
        assertRefused("00000001.history", "1\t0/3000000\tx\n", "timeline 1 has no history file");
        assertRefused("00000002.history", "", "it names no parent timeline");
        assertRefused("7FFFFFFF.history", "7FFFFFFF\t0/3000000\tx\n", "unreadable line");
        assertRefused("00000003.history", "3\t0/3000000\tx\n", "parent timeline 3 is out of order");
        assertRefused("00000004.history", "2\t0/3000000\tx\n1\t0/4000000\tx\n", "parent timeline 1 is out of order");
        assertRefused("00000004.history", "1\t0/5000000\tx\n2\t0/4000000\tx\n", "switch point 0/4000000 goes back");
        assertRefused("00000002.history", "1\tnot-an-lsn\tx\n", "unreadable line");
        assertThatThrownBy(() -> HistoryFiles.checkTimelineHistory(WalFileName.parse("00000002.history"), new byte[] {'1', 0, '\n'}))
                .hasMessageContaining("it is not text");
    }

    private static void assertRefused(String name, String content, String why) {
        assertThatThrownBy(() -> HistoryFiles.checkTimelineHistory(WalFileName.parse(name), text(content)))
                .hasMessageStartingWith("'" + name + "' is not a history file PostgreSQL could have written: ")
                .hasMessageContaining(why).hasMessageEndingWith("; nothing was stored");
    }

    private static final String LABEL = """
            START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
            STOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)
            CHECKPOINT LOCATION: 0/2000060
            BACKUP METHOD: streamed
            BACKUP FROM: primary
            START TIME: 2026-12-02 10:00:00 UTC
            LABEL: pgwarden x
            START TIMELINE: 1
            STOP TIME: 2026-12-02 10:00:01 UTC
            STOP TIMELINE: 1
            """;

    @Test
    void acceptsABackupHistoryFileThatMatchesItsName() {
        HistoryFiles.checkBackupHistory(WalFileName.parse("000000010000000000000002.00000028.backup"), text(LABEL), OptionalLong.of(SEG));
    }

    @Test
    void refusesABackupHistoryFileThatDoesNotMatchItsName() {
        var name = WalFileName.parse("000000010000000000000003.00000028.backup");
        assertThatThrownBy(() -> HistoryFiles.checkBackupHistory(name, text(LABEL), OptionalLong.of(SEG)))
                .hasMessageContaining("its START WAL LOCATION is in '000000010000000000000002', not in the file it names");
        var offset = WalFileName.parse("000000010000000000000002.00000030.backup");
        assertThatThrownBy(() -> HistoryFiles.checkBackupHistory(offset, text(LABEL), OptionalLong.of(SEG)))
                .hasMessageContaining("is not at the offset the name gives");
        var noStop = WalFileName.parse("000000010000000000000002.00000028.backup");
        assertThatThrownBy(() -> HistoryFiles.checkBackupHistory(noStop, text(LABEL.replaceAll("STOP WAL LOCATION.*\\n", "")), OptionalLong.empty()))
                .hasMessageContaining("it has no STOP WAL LOCATION");
        assertThatThrownBy(() -> HistoryFiles.checkBackupHistory(noStop, text("garbage"), OptionalLong.empty()))
                .hasMessageContaining("has no 'START WAL LOCATION' line");
    }
}
