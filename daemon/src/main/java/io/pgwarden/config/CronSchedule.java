package io.pgwarden.config;

import java.text.ParseException;
import java.time.Instant;
import java.time.ZoneId;
import java.util.BitSet;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TimeZone;
import org.quartz.CronExpression;

/**
 * A standard 5-field crontab expression (minute hour day-of-month month day-of-week, or @daily and friends),
 * translated to Quartz's dialect, which differs: a seconds field first, days of week numbered 1 (Sunday) to 7,
 * and "?" in one of the two day fields. Each field is expanded to an explicit list, so crontab's meaning is kept
 * exactly. One crontab rule has no Quartz equivalent: both day fields restricted (crontab runs on either day);
 * that is refused with a message saying so. Times are in the daemon's time zone, as with cron.
 */
public record CronSchedule(String crontab, String quartz, ZoneId zone) {
    private static final Map<String, String> MACROS = Map.of("@yearly", "0 0 1 1 *", "@annually", "0 0 1 1 *",
            "@monthly", "0 0 1 * *", "@weekly", "0 0 * * 0", "@daily", "0 0 * * *", "@midnight", "0 0 * * *", "@hourly", "0 * * * *");
    private static final List<String> MONTHS = List.of("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC");
    private static final List<String> DAYS = List.of("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT");

    public static CronSchedule parse(String text) {
        return parse(text, ZoneId.systemDefault());
    }

    /** @throws IllegalArgumentException with the reason, for the config loader to report under its key */
    public static CronSchedule parse(String text, ZoneId zone) {
        String expanded = MACROS.getOrDefault(text.trim().toLowerCase(Locale.ROOT), text.trim());
        if (expanded.startsWith("@")) throw new IllegalArgumentException("'" + text + "' is not a supported macro (@hourly, @daily, @weekly, @monthly, @yearly)");
        String[] f = expanded.split("\\s+");
        if (f.length != 5) {
            throw new IllegalArgumentException("'" + text + "' is not a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\")");
        }
        BitSet minutes = field(f[0], "minute", 0, 59, List.of(), text);
        BitSet hours = field(f[1], "hour", 0, 23, List.of(), text);
        BitSet monthDays = field(f[2], "day-of-month", 1, 31, List.of(), text);
        BitSet months = field(f[3], "month", 1, 12, MONTHS, text);
        BitSet weekDays = field(f[4], "day-of-week", 0, 7, DAYS, text);
        if (weekDays.get(7)) weekDays.set(0); // 7 is Sunday too
        weekDays.clear(7);
        boolean allMonthDays = monthDays.cardinality() == 31;
        boolean allWeekDays = weekDays.cardinality() == 7;
        if (!allMonthDays && !allWeekDays) {
            throw new IllegalArgumentException("'" + text + "' restricts both day-of-month and day-of-week, which crontab reads as"
                    + " \"either\" and pgwarden's scheduler cannot express; restrict only one of them");
        }
        String dom = allMonthDays ? (allWeekDays ? "*" : "?") : list(monthDays, null, 0);
        String dow = allWeekDays ? "?" : list(weekDays, DAYS, 0);
        String quartz = "0 " + list(minutes, null, 60) + " " + list(hours, null, 24) + " " + dom + " " + list(months, null, 12) + " " + dow;
        try {
            CronExpression.validateExpression(quartz);
        } catch (ParseException e) {
            throw new IllegalArgumentException("'" + text + "' cannot be scheduled: " + e.getMessage());
        }
        return new CronSchedule(text.trim(), quartz, zone);
    }

    /** The first time the schedule fires strictly after {@code after}. */
    public Optional<Instant> nextAfter(Instant after) {
        Date next = expression().getNextValidTimeAfter(Date.from(after));
        return Optional.ofNullable(next).map(Date::toInstant);
    }

    public CronExpression expression() {
        try {
            CronExpression e = new CronExpression(quartz);
            e.setTimeZone(TimeZone.getTimeZone(zone));
            return e;
        } catch (ParseException e) {
            throw new IllegalStateException("validated cron expression no longer parses: " + quartz, e);
        }
    }

    /** One crontab field: lists of {@code *}, {@code N}, {@code N-M}, each optionally {@code /STEP}; names where allowed. */
    private static BitSet field(String text, String name, int min, int max, List<String> names, String whole) {
        BitSet set = new BitSet(max + 1);
        for (String item : text.split(",", -1)) {
            String[] stepped = item.split("/", -1);
            if (stepped.length > 2 || item.isEmpty()) throw bad(whole, name, text, min, max);
            int step = stepped.length == 2 ? number(stepped[1], whole, name, text, 1, max) : 1;
            int from;
            int to;
            if (stepped[0].equals("*")) {
                from = min;
                to = max == 7 ? 6 : max; // "*" in day-of-week is 0-6
            } else {
                String[] range = stepped[0].split("-", -1);
                if (range.length > 2) throw bad(whole, name, text, min, max);
                from = value(range[0], names, whole, name, text, min, max);
                to = range.length == 2 ? value(range[1], names, whole, name, text, min, max) : (stepped.length == 2 ? max : from);
                if (to < from) throw new IllegalArgumentException("'" + whole + "': " + name + " range '" + stepped[0] + "' ends before it starts");
            }
            for (int v = from; v <= to; v += step) set.set(v);
        }
        return set;
    }

    private static int value(String text, List<String> names, String whole, String name, String field, int min, int max) {
        int index = names.indexOf(text.toUpperCase(Locale.ROOT));
        if (index >= 0) return names == MONTHS ? index + 1 : index;
        return number(text, whole, name, field, min, max);
    }

    private static int number(String text, String whole, String name, String field, int min, int max) {
        try {
            int v = Integer.parseInt(text);
            if (v >= min && v <= max) return v;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw bad(whole, name, field, min, max);
    }

    private static IllegalArgumentException bad(String whole, String name, String field, int min, int max) {
        return new IllegalArgumentException("'" + whole + "': " + name + " field '" + field + "' is invalid (values " + min + "-" + max
                + ", lists a,b, ranges a-b, steps */n)");
    }

    /** Quartz text for a set: "*" when complete, else an explicit comma list. */
    private static String list(BitSet set, List<String> names, int size) {
        if (size > 0 && set.cardinality() == size) return "*";
        StringBuilder out = new StringBuilder();
        for (int v = set.nextSetBit(0); v >= 0; v = set.nextSetBit(v + 1)) {
            if (!out.isEmpty()) out.append(',');
            out.append(names == null ? Integer.toString(v) : names.get(v));
        }
        return out.toString();
    }
}
