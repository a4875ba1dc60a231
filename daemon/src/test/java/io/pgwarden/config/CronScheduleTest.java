package io.pgwarden.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class CronScheduleTest {
    private static CronSchedule utc(String crontab) {
        return CronSchedule.parse(crontab, ZoneOffset.UTC);
    }

    private static Instant next(String crontab, String after) {
        return utc(crontab).nextAfter(Instant.parse(after)).orElseThrow();
    }

    @Test
    void translatesCrontabFieldsToQuartz() {
        assertThat(utc("0 2 * * *").quartz()).isEqualTo("0 0 2 * * ?");
        assertThat(utc("*/15 * * * *").quartz()).isEqualTo("0 0,15,30,45 * * * ?");
        assertThat(utc("30 1 1,15 * *").quartz()).isEqualTo("0 30 1 1,15 * ?");
        assertThat(utc("0 5 * * 0").quartz()).isEqualTo("0 0 5 ? * SUN");
        assertThat(utc("0 5 * * 7").quartz()).isEqualTo("0 0 5 ? * SUN");
        assertThat(utc("0 5 * * 1-5").quartz()).isEqualTo("0 0 5 ? * MON,TUE,WED,THU,FRI");
        assertThat(utc("0 5 * jan-mar sat,sun").quartz()).isEqualTo("0 0 5 ? 1,2,3 SUN,SAT");
        assertThat(utc("@hourly").quartz()).isEqualTo("0 0 * * * ?");
        assertThat(utc("@weekly").quartz()).isEqualTo("0 0 0 ? * SUN");
    }

    @Test
    void firesWhenCronWould() {
        assertThat(next("0 2 * * *", "2026-11-25T02:00:00Z")).isEqualTo("2026-11-26T02:00:00Z");
        assertThat(next("0 2 * * *", "2026-11-25T01:59:59Z")).isEqualTo("2026-11-25T02:00:00Z");
        // 2026-11-25 is a Wednesday: the next Sunday is the 29th.
        assertThat(next("0 5 * * 0", "2026-11-25T00:00:00Z")).isEqualTo("2026-11-29T05:00:00Z");
        assertThat(next("0 0 31 * *", "2026-11-25T00:00:00Z")).isEqualTo("2026-12-31T00:00:00Z");
        assertThat(next("*/20 9-10 * * *", "2026-11-25T10:40:00Z")).isEqualTo("2026-11-26T09:00:00Z");
    }

    @Test
    void usesTheGivenTimeZone() {
        CronSchedule berlin = CronSchedule.parse("0 2 * * *", ZoneId.of("Europe/Berlin"));
        assertThat(berlin.nextAfter(Instant.parse("2026-11-25T00:00:00Z"))).hasValue(Instant.parse("2026-11-25T01:00:00Z"));
    }

    @Test
    void rejectsWhatCronWouldNotAcceptOrQuartzCannotExpress() {
        assertThatThrownBy(() -> utc("0 2 * * * *")).hasMessageContaining("is not a 5-field cron expression");
        assertThatThrownBy(() -> utc("0 24 * * *")).hasMessage("'0 24 * * *': hour field '24' is invalid (values 0-23, lists a,b, ranges a-b, steps */n)");
        assertThatThrownBy(() -> utc("0 0 0 * *")).hasMessageContaining("day-of-month field '0' is invalid");
        assertThatThrownBy(() -> utc("0 0 * 13 *")).hasMessageContaining("month field '13' is invalid");
        assertThatThrownBy(() -> utc("0 0 * * 8")).hasMessageContaining("day-of-week field '8' is invalid");
        assertThatThrownBy(() -> utc("0 0 * * mon-")).hasMessageContaining("day-of-week field 'mon-' is invalid");
        assertThatThrownBy(() -> utc("5-1 0 * * *")).hasMessage("'5-1 0 * * *': minute range '5-1' ends before it starts");
        assertThatThrownBy(() -> utc("*/0 0 * * *")).hasMessageContaining("minute field '*/0' is invalid");
        assertThatThrownBy(() -> utc("@reboot")).hasMessageContaining("is not a supported macro");
        assertThatThrownBy(() -> utc("0 0 1 * 1")).hasMessageContaining("restricts both day-of-month and day-of-week");
    }
}
