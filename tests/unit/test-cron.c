/* SPDX-License-Identifier: MIT */
/* The cron schedules (vassal/cron.c): uWSGI's syntax (-1 any, -N every N), cron2's keys, and
 * cron_next() with injected times, in UTC and across the DST changes of a real zone: the clock
 * is an argument, so no test waits for a minute to pass. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cron.h"
#include "macro.h"

static void set_tz(const char *tz) {
        setenv("TZ", tz, 1);
        tzset();
}

static int utc(void **state) {
        (void) state;
        set_tz("UTC");
        return 0;
}

/* A time in the current zone, from its wall clock. */
static time_t at(int y, int mo, int d, int h, int mi) {
        struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                         .tm_min = mi, .tm_isdst = -1 };
        return mktime(&tm);
}

/* The wall clock of t in the current zone as "YYYY-MM-DD HH:MM". */
static const char *wall(time_t t) {
        static char buf[32];
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
        return buf;
}

static const char *next_of(const char *line, time_t after) {
        CronEntry e;
        const char *why = NULL;
        time_t t;
        assert_int_equal(cron_parse(line, false, &e, &why), 0);
        assert_int_equal(cron_next(&e.when, after, &t), 0);
        cron_entry_done(&e);
        return wall(t);
}

static void test_every_minute_is_the_next_minute(void **state) {
        (void) state;
        assert_string_equal(next_of("-1 -1 -1 -1 -1 true", at(2026, 3, 10, 12, 0) + 30),
                            "2026-03-10 12:01");
        /* Exactly on a minute: strictly after, never the same minute twice. */
        assert_string_equal(next_of("-1 -1 -1 -1 -1 true", at(2026, 3, 10, 12, 0)),
                            "2026-03-10 12:01");
}

static void test_uwsgi_examples(void **state) {
        (void) state;
        time_t t = at(2026, 3, 10, 12, 0); /* a Tuesday */
        /* "cron = 59 2 -1 -1 -1 ..." : 02:59 every day */
        assert_string_equal(next_of("59 2 -1 -1 -1 backup", t), "2026-03-11 02:59");
        /* "cron = 9 11 -1 -1 2 ...": 11:09 on Tuesdays */
        assert_string_equal(next_of("9 11 -1 -1 2 remind", t), "2026-03-17 11:09");
        /* "-1 -2 -1 -1 -1": every two hours, at each minute of the even hours */
        assert_string_equal(next_of("-1 -2 -1 -1 -1 x", at(2026, 3, 10, 13, 30)),
                            "2026-03-10 14:00");
        assert_string_equal(next_of("0 -2 -1 -1 -1 x", at(2026, 3, 10, 14, 0)),
                            "2026-03-10 16:00");
}

static void test_every_n(void **state) {
        (void) state;
        /* -N: from the field's first value in steps of N, as crontab's * / N. */
        assert_string_equal(next_of("-5 -1 -1 -1 -1 x", at(2026, 3, 10, 12, 1)),
                            "2026-03-10 12:05");
        assert_string_equal(next_of("-15 -1 -1 -1 -1 x", at(2026, 3, 10, 12, 45)),
                            "2026-03-10 13:00");
        assert_string_equal(next_of("*/10 * * * * x", at(2026, 3, 10, 12, 41)),
                            "2026-03-10 12:50");
        /* Days count from 1: -2 is the 1st, 3rd, 5th... */
        assert_string_equal(next_of("0 0 -2 -1 -1 x", at(2026, 3, 1, 0, 0)), "2026-03-03 00:00");
        /* Months count from 1 too: -3 is January, April, July, October. */
        assert_string_equal(next_of("0 0 1 -3 -1 x", at(2026, 1, 1, 0, 0)), "2026-04-01 00:00");
}

static void test_day_and_weekday_are_ored(void **state) {
        (void) state;
        /* The 15th or a Sunday, whichever comes first (crontab's rule). */
        time_t t = at(2026, 3, 10, 0, 0); /* Tuesday; Sunday the 15th is both */
        assert_string_equal(next_of("0 0 13 -1 0 x", t), "2026-03-13 00:00");
        assert_string_equal(next_of("0 0 20 -1 0 x", t), "2026-03-15 00:00");
        /* 7 is Sunday too. */
        assert_string_equal(next_of("0 0 -1 -1 7 x", t), "2026-03-15 00:00");
        /* Only the weekday restricted: the day of the month does not widen it. */
        assert_string_equal(next_of("0 0 -1 -1 5 x", t), "2026-03-13 00:00");
}

static void test_month_end_and_leap_day(void **state) {
        (void) state;
        /* The 31st skips the months without one. */
        assert_string_equal(next_of("0 0 31 -1 -1 x", at(2026, 3, 31, 12, 0)), "2026-05-31 00:00");
        /* February 29th waits for a leap year. */
        assert_string_equal(next_of("0 12 29 2 -1 x", at(2026, 1, 1, 0, 0)), "2028-02-29 12:00");
        /* New year from the last minute of the old one. */
        assert_string_equal(next_of("0 0 1 1 -1 x", at(2026, 12, 31, 23, 59)), "2027-01-01 00:00");
}

static void test_a_date_that_never_comes_is_refused(void **state) {
        CronEntry e;
        const char *why = NULL;
        (void) state;
        assert_int_equal(cron_parse("0 0 30 2 -1 never", false, &e, &why), -EINVAL);
        assert_non_null(why);
        assert_int_equal(cron_parse("0 0 31 4 -1 never", false, &e, &why), -EINVAL);
}

static void test_bad_lines_are_refused(void **state) {
        static const char *const bad[] = {
                "",  "-1 -1 -1 -1", "-1 -1 -1 -1 -1", "-1 -1 -1 -1 -1   ", "60 -1 -1 -1 -1 x",
                "-1 24 -1 -1 -1 x", "-1 -1 0 -1 -1 x", "-1 -1 32 -1 -1 x", "-1 -1 -1 13 -1 x",
                "-1 -1 -1 0 -1 x", "-1 -1 -1 -1 8 x", "-0 -1 -1 -1 -1 x", "-61 -1 -1 -1 -1 x",
                "a -1 -1 -1 -1 x", "1x -1 -1 -1 -1 x", "*/0 * * * * x", "+1 * * * * x",
                "00000 * * * * x", "-1,2 * * * * x",
        };
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                CronEntry e;
                const char *why = NULL;
                if (cron_parse(bad[i], false, &e, &why) != -EINVAL)
                        fail_msg("accepted '%s'", bad[i]);
                assert_non_null(why);
        }
}

static void test_command_keeps_its_spaces(void **state) {
        CronEntry e;
        const char *why;
        (void) state;
        assert_int_equal(cron_parse(" 1\t2 3 4 5   echo  'a  b' | tr a b  ", true, &e, &why), 0);
        assert_string_equal(e.command, "echo  'a  b' | tr a b");
        assert_true(e.unique);
        assert_int_equal(e.harakiri, -1);
        cron_entry_done(&e);
}

static void test_cron2_keys(void **state) {
        CronEntry e;
        const char *why = NULL;
        (void) state;
        /* No options: every minute. */
        assert_int_equal(cron_parse2("my command", &e, &why), 0);
        assert_string_equal(e.command, "my command");
        assert_false(e.unique);
        time_t t;
        assert_int_equal(cron_next(&e.when, at(2026, 3, 10, 8, 7), &t), 0);
        assert_string_equal(wall(t), "2026-03-10 08:08");
        cron_entry_done(&e);
        /* uWSGI's example: 05:30 every day, unique. */
        assert_int_equal(cron_parse2("minute=30,hour=5,unique=1 /usr/local/bin/backup.sh", &e,
                                     &why), 0);
        assert_true(e.unique);
        assert_string_equal(e.command, "/usr/local/bin/backup.sh");
        assert_int_equal(cron_next(&e.when, at(2026, 3, 10, 8, 0), &t), 0);
        assert_string_equal(wall(t), "2026-03-11 05:30");
        cron_entry_done(&e);
        assert_int_equal(cron_parse2("minute=-2,harakiri=10,week=1 sleep 130", &e, &why), 0);
        assert_int_equal(e.harakiri, 10);
        assert_int_equal(cron_next(&e.when, at(2026, 3, 10, 8, 0), &t), 0);
        assert_string_equal(wall(t), "2026-03-16 00:00");
        cron_entry_done(&e);

        static const char *const bad[] = {
                "minute=1, hour=2 x", /* uWSGI: no spaces in the options */
                "minute=61 x", "unique=maybe x", "harakiri=-1 x", "legion=a x", "color=1 x",
                "minute=1", "minute=1,,hour x", "day=30,month=2 x",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (cron_parse2(bad[i], &e, &why) != -EINVAL)
                        fail_msg("cron2 accepted '%s'", bad[i]);
}

/* Europe/Paris: 2026-03-29 02:00 → 03:00 (spring), 2026-10-25 03:00 → 02:00 (fall). */
static void test_dst_spring_forward_skips_the_missing_hour(void **state) {
        (void) state;
        if (access("/usr/share/zoneinfo/Europe/Paris", R_OK) < 0)
                skip();
        set_tz("Europe/Paris");
        /* 02:30 does not exist on that day: the next 02:30 is the day after. */
        assert_string_equal(next_of("30 2 -1 -1 -1 x", at(2026, 3, 29, 1, 0)), "2026-03-30 02:30");
        /* Every minute: 01:59 is followed by 03:00, one real minute later. */
        time_t before = at(2026, 3, 29, 1, 59);
        CronEntry e;
        const char *why;
        time_t t;
        assert_int_equal(cron_parse("-1 -1 -1 -1 -1 x", false, &e, &why), 0);
        assert_int_equal(cron_next(&e.when, before, &t), 0);
        assert_string_equal(wall(t), "2026-03-29 03:00");
        assert_int_equal(t - before, 60);
        cron_entry_done(&e);
        set_tz("UTC");
}

static void test_dst_fall_back_runs_a_repeated_minute_once(void **state) {
        (void) state;
        if (access("/usr/share/zoneinfo/Europe/Paris", R_OK) < 0)
                skip();
        set_tz("Europe/Paris");
        CronEntry e;
        const char *why;
        time_t t, first;
        assert_int_equal(cron_parse("30 2 -1 -1 -1 x", false, &e, &why), 0);
        /* 02:30 comes twice on 2026-10-25 (CEST, then CET): it runs at the first... */
        assert_int_equal(cron_next(&e.when, at(2026, 10, 25, 1, 0), &first), 0);
        assert_string_equal(wall(first), "2026-10-25 02:30");
        /* ...and recomputed from there, the next is the next day's, not the repeat an hour on. */
        assert_int_equal(cron_next(&e.when, first, &t), 0);
        assert_string_equal(wall(t), "2026-10-26 02:30");
        cron_entry_done(&e);
        set_tz("UTC");
}

static void test_clock_jumps_recompute_from_now(void **state) {
        CronEntry e;
        const char *why;
        time_t t;
        (void) state;
        assert_int_equal(cron_parse("0 -6 -1 -1 -1 x", false, &e, &why), 0);
        /* The clock jumped forward over 06:00 and 12:00: the runs missed are not made up. */
        assert_int_equal(cron_next(&e.when, at(2026, 3, 10, 13, 17), &t), 0);
        assert_string_equal(wall(t), "2026-03-10 18:00");
        /* Back by a day: the schedule follows the clock, from wherever it is now. */
        assert_int_equal(cron_next(&e.when, at(2026, 3, 9, 13, 17), &t), 0);
        assert_string_equal(wall(t), "2026-03-09 18:00");
        cron_entry_done(&e);
}

static void test_matches_agrees_with_next(void **state) {
        CronEntry e;
        const char *why;
        (void) state;
        assert_int_equal(cron_parse("-7 -3 -4 -5 -2 x", false, &e, &why), 0);
        time_t t = at(2026, 1, 1, 0, 0);
        for (int i = 0; i < 200; i++) {
                time_t next;
                assert_int_equal(cron_next(&e.when, t, &next), 0);
                assert_true(next > t);
                struct tm tm;
                localtime_r(&next, &tm);
                assert_true(cron_matches(&e.when, &tm));
                /* No match in between: walk the minutes for the first few. */
                if (i < 5)
                        for (time_t m = t - t % 60 + 60; m < next; m += 60) {
                                localtime_r(&m, &tm);
                                assert_false(cron_matches(&e.when, &tm));
                        }
                t = next;
        }
        cron_entry_done(&e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_every_minute_is_the_next_minute, utc),
                cmocka_unit_test_setup(test_uwsgi_examples, utc),
                cmocka_unit_test_setup(test_every_n, utc),
                cmocka_unit_test_setup(test_day_and_weekday_are_ored, utc),
                cmocka_unit_test_setup(test_month_end_and_leap_day, utc),
                cmocka_unit_test_setup(test_a_date_that_never_comes_is_refused, utc),
                cmocka_unit_test_setup(test_bad_lines_are_refused, utc),
                cmocka_unit_test_setup(test_command_keeps_its_spaces, utc),
                cmocka_unit_test_setup(test_cron2_keys, utc),
                cmocka_unit_test_setup(test_dst_spring_forward_skips_the_missing_hour, utc),
                cmocka_unit_test_setup(test_dst_fall_back_runs_a_repeated_minute_once, utc),
                cmocka_unit_test_setup(test_clock_jumps_recompute_from_now, utc),
                cmocka_unit_test_setup(test_matches_agrees_with_next, utc),
        };
        return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
