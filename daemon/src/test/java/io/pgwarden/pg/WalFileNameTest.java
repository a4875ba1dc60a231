package io.pgwarden.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class WalFileNameTest {

    @Test
    void recognisesTheFourShapesAndTheirTimeline() {
        assertThat(WalFileName.parse("0000000A00000001000000FF").kind()).isEqualTo(WalFileName.Kind.SEGMENT);
        assertThat(WalFileName.parse("0000000A00000001000000FF").timeline()).isEqualTo(10);
        assertThat(WalFileName.parse("000000020000000000000003.partial").kind()).isEqualTo(WalFileName.Kind.PARTIAL);
        assertThat(WalFileName.parse("000000010000000000000002.00000028.backup").kind()).isEqualTo(WalFileName.Kind.BACKUP_HISTORY);
        assertThat(WalFileName.parse("0000000B.history").timelineHex()).isEqualTo("0000000B");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "00000001", "0000000100000000000000010", "000000010000000000000001.zst", "../000000010000000000000001",
            "0000000100000000000000g1", "000000010000000000000001.partial.x", "00000001.history.zst", "00000000.history"})
    void refusesEverythingElse(String name) {
        assertThatThrownBy(() -> WalFileName.parse(name)).isInstanceOfSatisfying(PgwardenException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
    }

    @Test
    void segmentNumbersDependOnTheSegmentSize() {
        WalFileName name = WalFileName.parse("000000010000000200000003");
        assertThat(name.segmentNumber(16L << 20)).isEqualTo(2L * 256 + 3);
        assertThat(name.segmentNumber(1L << 20)).isEqualTo(2L * 4096 + 3);
    }

    @Test
    void parsesALongPageHeader() {
        ByteBuffer b = ByteBuffer.allocate(WalSegmentHeader.LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) 0xD113).putShort(2, (short) 0x0002).putInt(4, 1).putLong(8, 0x3000000L)
                .putLong(24, 7312345678901234567L).putInt(32, 16 << 20).putInt(36, 8192);
        WalSegmentHeader h = WalSegmentHeader.parse(b.array(), "000000010000000000000003");
        assertThat(h.pgMajor()).isEqualTo(16);
        assertThat(h.systemIdentifier()).isEqualTo(7312345678901234567L);
        assertThat(h.segmentSize()).isEqualTo(16L << 20);
        h.checkMatches(WalFileName.parse("000000010000000000000003"));
        assertThatThrownBy(() -> h.checkMatches(WalFileName.parse("000000010000000000000004")))
                .hasMessage("WAL file '000000010000000000000004' starts at LSN 0/3000000, but its name says 0/4000000");
    }

    @Test
    void refusesAShortPageHeaderAndAnInvalidSegmentSize() {
        ByteBuffer b = ByteBuffer.allocate(WalSegmentHeader.LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) 0xD110).putShort(2, (short) 0x0000);
        assertThatThrownBy(() -> WalSegmentHeader.parse(b.array(), "x")).hasMessage("WAL file 'x' does not start with a long page header");
        b.putShort(2, (short) 0x0002).putInt(32, 3 << 20);
        assertThatThrownBy(() -> WalSegmentHeader.parse(b.array(), "x")).hasMessage("WAL file 'x' names an invalid segment size 3145728");
    }
}
