/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "../../ctl/ctl.h" /* the pattern rule adds no -Ictl */
#include "../../ctl/top.h"
#include "macro.h"

/* What top.o takes from main.o, which the test does not link: ctl_cmd_top() is tested by
 * tests/integration/test-ctl-top.sh against a real emperor. */
CtlArgs ctl_args;

int ctl_err(int status, const char *fmt, ...) {
        (void) fmt;
        return status;
}

int ctl_request(const char *cmd, const char *app, bool all, bool print_json, cJSON **ret) {
        (void) cmd, (void) app, (void) all, (void) print_json;
        *ret = NULL;
        return CTL_EXIT_NOT_RUNNING;
}

/* 2026-01-01T12:34:56Z, printed in UTC (setup_utc). */
#define WALL ((time_t) 1767270896)

/* A frame of a reply given as JSON, polled at now (monotonic seconds). */
static TopFrame *frame(const char *json, double now) {
        cJSON *reply = cJSON_Parse(json);
        TopFrame *f = NULL;

        assert_non_null(reply);
        assert_int_equal(top_frame_new(reply, now, WALL, &f), 0);
        assert_non_null(f);
        return f;
}

static const TopRow *row_named(const TopFrame *f, const char *name) {
        for (size_t i = 0; i < f->n; i++)
                if (streq_ptr(f->rows[i].name, name))
                        return &f->rows[i];
        fail_msg("no row '%s'", name);
        return NULL;
}

/* The names in the frame's order, space-separated ("?" for a nameless row). */
static const char *order(const TopFrame *f) {
        static char buf[512];
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < f->n; i++)
                len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "",
                                         f->rows[i].name ? f->rows[i].name : "?");
        return buf;
}

static char *printed(const TopFrame *f, TopSort sort, const TopLayout *layout) {
        char *text = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&text, &size);

        assert_non_null(m);
        top_frame_print(m, f, sort, layout);
        assert_int_equal(fclose(m), 0);
        return text;
}

static void assert_printed(const TopFrame *f, TopSort sort, const TopLayout *layout,
                           const char *expected) {
        char *text = printed(f, sort, layout);
        assert_string_equal(text, expected);
        free(text);
}

/* The header's clock is local time: UTC here, whatever the machine's zone. */
static int setup_utc(void **state) {
        (void) state;
        setenv("TZ", "UTC", 1);
        tzset();
        return 0;
}

/* ---- options ---- */

static void test_sort_names_and_keys_round_trip(void **state) {
        (void) state;
        for (TopSort s = 0; s < _TOP_SORT_MAX; s++) {
                assert_int_equal(top_sort_from_string(top_sort_to_string(s)), s);
                assert_int_equal(top_sort_from_key(top_sort_to_string(s)[0]), s);
        }
        assert_int_equal(top_sort_from_string("rps"), TOP_SORT_RPS);
        assert_int_equal(top_sort_from_string("latency"), TOP_SORT_LATENCY);
        assert_int_equal(top_sort_from_string("memory"), TOP_SORT_MEMORY);
        assert_int_equal(top_sort_from_string("cpu"), TOP_SORT_CPU);
        assert_int_equal(top_sort_from_string("name"), TOP_SORT_NAME);
        assert_int_equal(top_sort_from_key('M'), TOP_SORT_MEMORY);
        assert_int_equal(top_sort_from_string("RPS"), _TOP_SORT_INVALID);
        assert_int_equal(top_sort_from_string(""), _TOP_SORT_INVALID);
        assert_int_equal(top_sort_from_string(NULL), _TOP_SORT_INVALID);
        assert_int_equal(top_sort_from_string("p99"), _TOP_SORT_INVALID);
        assert_int_equal(top_sort_from_key('q'), _TOP_SORT_INVALID);
        assert_int_equal(top_sort_from_key(' '), _TOP_SORT_INVALID);
        assert_null(top_sort_to_string(_TOP_SORT_MAX));
        assert_null(top_sort_to_string(_TOP_SORT_INVALID));
}

static void test_delay_is_plain_seconds_from_a_tenth(void **state) {
        static const char *const bad[] = { "", "abc", "1s", " 1", "1 ", "-1", "+1", "1e3",
                                           "0x10", "nan", "inf", "1..2", "." };
        static const char *const out_of_range[] = { "0", "0.0", "0.05", "0.099", "86401" };
        double d = -1;
        (void) state;

        assert_int_equal(top_parse_delay("2", &d), 0);
        assert_true(d == 2);
        assert_int_equal(top_parse_delay("0.5", &d), 0);
        assert_true(d == 0.5);
        assert_int_equal(top_parse_delay(".25", &d), 0);
        assert_true(d == 0.25);
        assert_int_equal(top_parse_delay("0.1", &d), 0);
        assert_true(d == 0.1);
        assert_int_equal(top_parse_delay("86400", &d), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(top_parse_delay(bad[i], &d), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(out_of_range); i++)
                assert_int_equal(top_parse_delay(out_of_range[i], &d), -ERANGE);
        assert_int_equal(top_parse_delay(NULL, &d), -EINVAL);
}

static void test_count_is_a_positive_integer(void **state) {
        unsigned n = 0;
        (void) state;

        assert_int_equal(top_parse_count("1", &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(top_parse_count("3", &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(top_parse_count("007", &n), 0);
        assert_int_equal(n, 7);
        assert_int_equal(top_parse_count("1000000000", &n), 0);
        assert_int_equal(n, TOP_COUNT_MAX);
        assert_int_equal(top_parse_count("0", &n), -ERANGE);
        assert_int_equal(top_parse_count("1000000001", &n), -ERANGE);
        assert_int_equal(top_parse_count("99999999999999999999999", &n), -ERANGE);
        assert_int_equal(top_parse_count("-1", &n), -EINVAL);
        assert_int_equal(top_parse_count("1.5", &n), -EINVAL);
        assert_int_equal(top_parse_count("", &n), -EINVAL);
        assert_int_equal(top_parse_count("x", &n), -EINVAL);
        assert_int_equal(top_parse_count(" 1", &n), -EINVAL);
        assert_int_equal(n, TOP_COUNT_MAX); /* untouched by the failures */
}

/* ---- frames ---- */

static void test_frame_needs_a_vassals_array(void **state) {
        static const char *const replies[] = { "{\"ok\":true}", "{\"vassals\":{}}",
                                               "{\"vassals\":null}", "[1]", "3" };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(replies); i++) {
                cJSON *reply = cJSON_Parse(replies[i]);
                TopFrame *f = NULL;
                assert_non_null(reply);
                assert_int_equal(top_frame_new(reply, 1, WALL, &f), -EBADMSG);
                assert_null(f);
                cJSON_Delete(reply); /* still ours */
        }
}

static void test_frame_reads_fields_and_distrusts_their_types(void **state) {
        TopFrame *f = frame("{\"ok\":true,\"vassals\":["
                            "{\"name\":\"good\",\"state\":\"running\",\"pid\":42,"
                            "\"workers\":{\"busy\":1,\"total\":4},\"requests\":100,"
                            "\"errors\":2,\"avg_rt_ms\":1.5,\"p99_rt_ms\":9,\"rss\":1048576,"
                            "\"cpu\":12.5,\"listen_queue\":3,\"uptime\":61,\"stats_age\":0.25},"
                            "null, 7, \"x\", [],"
                            "{\"name\":5,\"state\":[],\"pid\":\"42\",\"workers\":[1,2],"
                            "\"requests\":-1,\"errors\":true,\"avg_rt_ms\":null,"
                            "\"p99_rt_ms\":{},\"rss\":\"big\",\"cpu\":-3,\"listen_queue\":1e999,"
                            "\"uptime\":\"long\",\"stats_age\":\"old\"},"
                            "{\"name\":\"\",\"workers\":{\"busy\":\"x\",\"total\":2}}]}",
                            100);
        const TopRow *r;
        (void) state;

        assert_int_equal(f->n, 3); /* null, 7, "x" and [] are not vassals */
        r = &f->rows[0];
        assert_string_equal(r->name, "good");
        assert_true(r->running);
        assert_true(r->pid == 42 && r->busy == 1 && r->total == 4);
        assert_true(r->requests == 100 && r->errors == 2);
        assert_true(r->avg_ms == 1.5 && r->p99_ms == 9 && r->rss == 1048576 && r->cpu == 12.5);
        assert_true(r->listen_queue == 3 && r->uptime == 61);
        assert_true(r->report == 99.75); /* when the vassal reported, not when we polled */
        assert_true(isnan(r->rps) && isnan(r->eps));

        r = &f->rows[1];
        assert_null(r->name);
        assert_false(r->running);
        assert_true(isnan(r->pid) && isnan(r->busy) && isnan(r->total));
        assert_true(isnan(r->requests) && isnan(r->errors) && isnan(r->avg_ms));
        assert_true(isnan(r->p99_ms) && isnan(r->rss) && isnan(r->cpu));
        assert_true(isnan(r->listen_queue) && isnan(r->uptime) && isnan(r->report));

        r = &f->rows[2];
        assert_null(r->name); /* empty: as good as none */
        assert_true(isnan(r->busy) && r->total == 2);
        top_frame_free(f);
}

static void test_frame_of_no_vassals(void **state) {
        TopFrame *f = frame("{\"ok\":true,\"vassals\":[]}", 1);
        (void) state;

        assert_int_equal(f->n, 0);
        top_frame_rates(f, NULL);
        top_frame_sort(f, TOP_SORT_RPS);
        assert_printed(f, TOP_SORT_RPS, NULL,
                       "top - 12:34:56  vassals: 0, running: 0  rps: -  rss: -  sort: rps\n"
                       "\n"
                       "no vassals\n");
        top_frame_free(f);
        assert_null(top_frame_free(NULL));
}

/* ---- rates ---- */

/* One vassal "a" with pid, requests, errors, stats_age (negative: none), polled at now. */
static TopFrame *one(double now, int pid, double requests, double errors, double age) {
        char json[512];

        if (age < 0)
                (void) snprintf(json, sizeof(json),
                                "{\"vassals\":[{\"name\":\"a\",\"pid\":%d,\"requests\":%.17g,"
                                "\"errors\":%.17g}]}",
                                pid, requests, errors);
        else
                (void) snprintf(json, sizeof(json),
                                "{\"vassals\":[{\"name\":\"a\",\"pid\":%d,\"requests\":%.17g,"
                                "\"errors\":%.17g,\"stats_age\":%.17g}]}",
                                pid, requests, errors, age);
        return frame(json, now);
}

static void test_rates_are_deltas_over_the_reports_span(void **state) {
        TopFrame *f0 = one(10.0, 7, 1000, 5, 0.5); /* reported at 9.5 */
        TopFrame *f1 = one(12.0, 7, 1400, 9, 0.5); /* reported at 11.5 */
        (void) state;

        top_frame_rates(f0, NULL);
        assert_true(isnan(f0->rows[0].rps) && isnan(f0->rows[0].eps)); /* one report: no rate */
        top_frame_rates(f1, f0);
        assert_float_equal(f1->rows[0].rps, 200, 1e-9);
        assert_float_equal(f1->rows[0].eps, 2, 1e-9);
        top_frame_free(f0);
        top_frame_free(f1);
}

static void test_rates_without_a_report_age_span_the_polls(void **state) {
        TopFrame *f0 = one(10.0, 7, 1000, 0, -1);
        TopFrame *f1 = one(14.0, 7, 1400, 0, -1);
        (void) state;

        top_frame_rates(f1, f0);
        assert_float_equal(f1->rows[0].rps, 100, 1e-9);
        assert_float_equal(f1->rows[0].eps, 0, 1e-9);
        top_frame_free(f0);
        top_frame_free(f1);
}

/* Polls faster than the vassal reports see the same report twice: no zero in between, and
 * the next rate spans from the report before. */
static void test_same_report_keeps_the_rate_and_the_base(void **state) {
        TopFrame *f0 = one(10.0, 7, 1000, 0, 0.2);  /* reported at 9.8 */
        TopFrame *f1 = one(11.0, 7, 1100, 0, 0.2);  /* 10.8 */
        TopFrame *f2 = one(11.5, 7, 1100, 0, 0.7);  /* 10.8 again */
        TopFrame *f3 = one(11.9, 7, 1300, 0, 0.1);  /* 11.8 */
        (void) state;

        top_frame_rates(f1, f0);
        assert_float_equal(f1->rows[0].rps, 100, 1e-9);
        top_frame_rates(f2, f1);
        assert_float_equal(f2->rows[0].rps, 100, 1e-9);
        top_frame_rates(f3, f2);
        assert_float_equal(f3->rows[0].rps, 200, 1e-9); /* (1300 - 1100) / (11.8 - 10.8) */
        top_frame_free(f0);
        top_frame_free(f1);
        top_frame_free(f2);
        top_frame_free(f3);
}

static void test_same_report_on_the_first_frame_has_no_rate(void **state) {
        TopFrame *f0 = one(10.0, 7, 1000, 0, 0.2);
        TopFrame *f1 = one(10.5, 7, 1000, 0, 0.7);
        TopFrame *f2 = one(11.0, 7, 1150, 0, 0.2); /* 10.8: 150 over 1 s since 9.8 */
        (void) state;

        top_frame_rates(f1, f0);
        assert_true(isnan(f1->rows[0].rps));
        top_frame_rates(f2, f1);
        assert_float_equal(f2->rows[0].rps, 150, 1e-9);
        top_frame_free(f0);
        top_frame_free(f1);
        top_frame_free(f2);
}

static void test_restarted_vassal_counts_from_zero(void **state) {
        TopFrame *f0 = one(10.0, 7, 5000, 50, 0);
        TopFrame *f1 = one(12.0, 7, 300, 2, 0);  /* requests went down: restarted */
        TopFrame *f2 = one(14.0, 8, 900, 10, 0); /* a new pid, though its counters went up */
        TopFrame *f3 = one(16.0, 8, 1300, 10, 0);
        (void) state;

        top_frame_rates(f1, f0);
        assert_float_equal(f1->rows[0].rps, 150, 1e-9); /* 300 since the restart, over 2 s */
        assert_float_equal(f1->rows[0].eps, 1, 1e-9);
        top_frame_rates(f2, f1);
        assert_float_equal(f2->rows[0].rps, 450, 1e-9);
        assert_float_equal(f2->rows[0].eps, 5, 1e-9);
        top_frame_rates(f3, f2);
        assert_float_equal(f3->rows[0].rps, 200, 1e-9);
        assert_float_equal(f3->rows[0].eps, 0, 1e-9);
        top_frame_free(f0);
        top_frame_free(f1);
        top_frame_free(f2);
        top_frame_free(f3);
}

static void test_restart_just_before_the_poll_waits_for_a_span(void **state) {
        TopFrame *f0 = one(10.0, 7, 5000, 0, 0.1);
        TopFrame *f1 = one(10.2, 8, 3, 0, 0.2); /* reported at 10.0, 0.1 s after the last */
        (void) state;

        top_frame_rates(f1, f0);
        assert_true(isnan(f1->rows[0].rps)); /* never a huge or negative rate */
        assert_true(f1->rows[0].requests == 3); /* the base for the next frame */
        top_frame_free(f0);
        top_frame_free(f1);
}

static void test_rates_match_rows_by_name(void **state) {
        TopFrame *f0 = frame("{\"vassals\":[{\"name\":\"b\",\"requests\":10,\"stats_age\":0},"
                             "{\"name\":\"a\",\"requests\":100,\"stats_age\":0},"
                             "{\"requests\":5,\"stats_age\":0},"
                             "{\"name\":\"gone\",\"requests\":1,\"stats_age\":0}]}",
                             1);
        TopFrame *f1 = frame("{\"vassals\":[{\"name\":\"a\",\"requests\":300,\"stats_age\":0},"
                             "{\"name\":\"new\",\"requests\":50,\"stats_age\":0},"
                             "{\"requests\":25,\"stats_age\":0},"
                             "{\"name\":\"b\",\"requests\":30,\"stats_age\":0},"
                             "{\"name\":\"stopped\",\"requests\":null,\"stats_age\":null}]}",
                             3);
        (void) state;

        top_frame_rates(f1, f0);
        assert_float_equal(row_named(f1, "a")->rps, 100, 1e-9);
        assert_float_equal(row_named(f1, "b")->rps, 10, 1e-9);
        assert_true(isnan(row_named(f1, "new")->rps));     /* not in the last frame */
        assert_true(isnan(row_named(f1, "stopped")->rps)); /* no counters */
        assert_true(isnan(f1->rows[2].rps));               /* nameless: nothing to match */
        top_frame_free(f0);
        top_frame_free(f1);
}

/* ---- sorting ---- */

#define FLEET                                                                                   \
        "{\"vassals\":["                                                                        \
        "{\"name\":\"mid\",\"rss\":200,\"cpu\":5,\"avg_rt_ms\":3,\"p99_rt_ms\":null},"          \
        "{\"name\":\"zeta\",\"rss\":300,\"cpu\":null,\"avg_rt_ms\":1,\"p99_rt_ms\":20},"        \
        "{\"rss\":300,\"cpu\":50,\"avg_rt_ms\":null,\"p99_rt_ms\":null},"                       \
        "{\"name\":\"alpha\",\"rss\":300,\"cpu\":5,\"avg_rt_ms\":2,\"p99_rt_ms\":3},"           \
        "{\"name\":\"idle\",\"rss\":\"x\",\"cpu\":0,\"avg_rt_ms\":0,\"p99_rt_ms\":null},"       \
        "{\"name\":\"beta\",\"rss\":null,\"cpu\":-1,\"avg_rt_ms\":null,\"p99_rt_ms\":20}]}"

static void sort_and_check(TopSort key, const char *expected) {
        TopFrame *f = frame(FLEET, 1);
        double rps[] = { 5, 0, 7, 7, NAN, 100 };

        for (size_t i = 0; i < f->n; i++)
                f->rows[i].rps = rps[i];
        top_frame_sort(f, key);
        assert_string_equal(order(f), expected);
        top_frame_sort(f, key); /* sorting again changes nothing */
        assert_string_equal(order(f), expected);
        top_frame_free(f);
}

static void test_sort_by_rps_ties_by_name_unknown_last(void **state) {
        (void) state;
        sort_and_check(TOP_SORT_RPS, "beta alpha ? mid zeta idle");
}

static void test_sort_by_latency_takes_p99_else_average(void **state) {
        (void) state;
        /* beta and zeta: p99 20, by name; mid: avg 3 = alpha's p99 3, by name; ? has
         * neither. */
        sort_and_check(TOP_SORT_LATENCY, "beta zeta alpha mid idle ?");
}

static void test_sort_by_memory(void **state) {
        (void) state;
        sort_and_check(TOP_SORT_MEMORY, "alpha zeta ? mid beta idle");
}

static void test_sort_by_cpu(void **state) {
        (void) state;
        sort_and_check(TOP_SORT_CPU, "? alpha mid idle beta zeta");
}

static void test_sort_by_name_nameless_last(void **state) {
        (void) state;
        sort_and_check(TOP_SORT_NAME, "alpha beta idle mid zeta ?");
}

static void test_sort_of_nameless_ties_keeps_the_reply_order(void **state) {
        TopFrame *f = frame("{\"vassals\":[{\"pid\":3},{\"pid\":1},{\"pid\":2}]}", 1);
        (void) state;

        top_frame_sort(f, TOP_SORT_NAME);
        assert_true(f->rows[0].pid == 3 && f->rows[1].pid == 1 && f->rows[2].pid == 2);
        top_frame_free(f);
}

/* ---- text ---- */

static TopFrame *printable(void) {
        TopFrame *f = frame(
                "{\"ok\":true,\"vassals\":["
                "{\"name\":\"api\",\"state\":\"running\",\"pid\":4242,"
                "\"workers\":{\"busy\":3,\"total\":8},\"errors\":7,\"avg_rt_ms\":12.345,"
                "\"p99_rt_ms\":250.5,\"rss\":64424509,\"cpu\":87.25,\"listen_queue\":12,"
                "\"uptime\":7512},"
                "{\"name\":\"web\",\"state\":\"running\",\"pid\":99,"
                "\"workers\":{\"busy\":0,\"total\":2},\"avg_rt_ms\":0,\"p99_rt_ms\":null,"
                "\"rss\":1048576,\"cpu\":0,\"listen_queue\":0,\"uptime\":45},"
                "{\"name\":\"bad\\u001b[2Jname\",\"state\":\"crash-loop\",\"backoff\":3.2,"
                "\"pid\":null,\"workers\":null,\"uptime\":null,\"rss\":\"lots\",\"cpu\":\"hot\"}"
                "]}",
                1);

        f->rows[0].rps = 1234.56;
        f->rows[0].eps = 0.5;
        f->rows[1].rps = 0;
        f->rows[1].eps = 0;
        return f;
}

static void test_print_frame_header_and_table(void **state) {
        TopFrame *f = printable();
        (void) state;

        assert_printed(
                f, TOP_SORT_RPS, NULL,
                "top - 12:34:56  vassals: 3, running: 2  rps: 1235  rss: 62.4M  sort: rps\n"
                "\n"
                "NAME         STATE                      PID  WORKERS   RPS  AVG-MS  P99-MS  "
                "ERR/s    RSS  CPU%  LQ  UPTIME\n"
                "api          running                   4242      3/8  1235    12.3   250.5  "
                " 0.50  61.4M  87.2  12   2h05m\n"
                "web          running                     99      0/2     0       0       -  "
                "    0   1.0M   0.0   0     45s\n"
                "bad?[2Jname  crash-loop (retry in 4s)     -        -     -       -       -  "
                "    -      -     -   -       -\n");
        top_frame_free(f);
}

static void test_print_keys_line_on_the_terminal(void **state) {
        TopFrame *f = printable();
        TopLayout l = { .keys = true };
        char *text;
        (void) state;

        text = printed(f, TOP_SORT_MEMORY, &l);
        assert_non_null(strstr(text, "sort: memory\nkeys: q quit"));
        free(text);
        top_frame_free(f);
}

static void test_print_cuts_lines_to_the_width(void **state) {
        TopFrame *f = printable();
        TopLayout l = { .width = 20 };
        (void) state;

        assert_printed(f, TOP_SORT_RPS, &l,
                       "top - 12:34:56  vass\n"
                       "\n"
                       "NAME         STATE\n"
                       "api          running\n"
                       "web          running\n"
                       "bad?[2Jname  crash-l\n");
        top_frame_free(f);
}

static void test_print_cuts_rows_to_the_height(void **state) {
        TopFrame *f = printable();
        TopLayout l = { .width = 12, .height = 5 };
        (void) state;

        /* Header, blank, titles: room for two rows of three, so one and "(2 more)". */
        assert_printed(f, TOP_SORT_RPS, &l,
                       "top - 12:34:\n"
                       "\n"
                       "NAME  STATE\n"
                       "api   runnin\n"
                       "(2 more)\n");
        l.height = 2;
        assert_printed(f, TOP_SORT_RPS, &l, "top - 12:34:\n\n");
        l.height = 6;
        l.keys = true;
        assert_printed(f, TOP_SORT_RPS, &l,
                       "top - 12:34:\n"
                       "keys: q quit\n"
                       "\n"
                       "NAME  STATE\n"
                       "api   runnin\n"
                       "(2 more)\n");
        top_frame_free(f);
}

static void test_print_cuts_long_names(void **state) {
        TopFrame *f = frame("{\"vassals\":[{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                            "aaaaaaaa\"}]}",
                            1);
        char *text;
        (void) state;

        text = printed(f, TOP_SORT_RPS, NULL);
        assert_non_null(strstr(text, "\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...  -  "));
        free(text);
        top_frame_free(f);
}

static void test_units_of_bytes_and_rates(void **state) {
        TopFrame *f = frame("{\"vassals\":[{\"name\":\"a\",\"rss\":812},{\"name\":\"b\","
                            "\"rss\":4096},{\"name\":\"c\",\"rss\":1610612736},{\"name\":\"d\","
                            "\"rss\":128849018880}]}",
                            1);
        (void) state;

        f->rows[0].rps = 0.25;
        f->rows[1].rps = 99.94;
        f->rows[2].rps = 5e-9;
        f->rows[3].rps = 123456;
        assert_printed(f, TOP_SORT_NAME, NULL,
                       "top - 12:34:56  vassals: 4, running: 0  rps: 123556  rss: 122G  "
                       "sort: name\n"
                       "\n"
                       "NAME  STATE  PID  WORKERS     RPS  AVG-MS  P99-MS  ERR/s   RSS  CPU%  LQ  "
                       "UPTIME\n"
                       "a     -        -        -    0.25       -       -      -  812B     -   -  "
                       "     -\n"
                       "b     -        -        -    99.9       -       -      -  4.0K     -   -  "
                       "     -\n"
                       "c     -        -        -    0.00       -       -      -  1.5G     -   -  "
                       "     -\n"
                       "d     -        -        -  123456       -       -      -  120G     -   -  "
                       "     -\n");
        top_frame_free(f);
}

static void test_json_frame_has_nulls_for_unknowns(void **state) {
        TopFrame *f = printable();
        cJSON *j = top_frame_json(f, TOP_SORT_LATENCY);
        char *s;
        (void) state;

        assert_non_null(j);
        s = cJSON_PrintUnformatted(j);
        assert_non_null(s);
        assert_string_equal(
                s, "{\"time\":1767270896,\"vassals\":3,\"running\":2,\"rps\":1234.56,"
                   "\"rss\":65473085,\"sort\":\"latency\",\"rows\":["
                   "{\"name\":\"api\",\"state\":\"running\",\"pid\":4242,"
                   "\"workers\":{\"busy\":3,\"total\":8},\"rps\":1234.56,\"avg_rt_ms\":12.345,"
                   "\"p99_rt_ms\":250.5,\"errors_per_sec\":0.5,\"rss\":64424509,\"cpu\":87.25,"
                   "\"listen_queue\":12,\"uptime\":7512},"
                   "{\"name\":\"web\",\"state\":\"running\",\"pid\":99,"
                   "\"workers\":{\"busy\":0,\"total\":2},\"rps\":0,\"avg_rt_ms\":0,"
                   "\"p99_rt_ms\":null,\"errors_per_sec\":0,\"rss\":1048576,\"cpu\":0,"
                   "\"listen_queue\":0,\"uptime\":45},"
                   "{\"name\":\"bad\\u001b[2Jname\",\"state\":\"crash-loop\",\"pid\":null,"
                   "\"workers\":null,\"rps\":null,\"avg_rt_ms\":null,\"p99_rt_ms\":null,"
                   "\"errors_per_sec\":null,\"rss\":null,\"cpu\":null,\"listen_queue\":null,"
                   "\"uptime\":null}]}");
        free(s);
        cJSON_Delete(j);
        top_frame_free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sort_names_and_keys_round_trip),
                cmocka_unit_test(test_delay_is_plain_seconds_from_a_tenth),
                cmocka_unit_test(test_count_is_a_positive_integer),
                cmocka_unit_test(test_frame_needs_a_vassals_array),
                cmocka_unit_test(test_frame_reads_fields_and_distrusts_their_types),
                cmocka_unit_test(test_frame_of_no_vassals),
                cmocka_unit_test(test_rates_are_deltas_over_the_reports_span),
                cmocka_unit_test(test_rates_without_a_report_age_span_the_polls),
                cmocka_unit_test(test_same_report_keeps_the_rate_and_the_base),
                cmocka_unit_test(test_same_report_on_the_first_frame_has_no_rate),
                cmocka_unit_test(test_restarted_vassal_counts_from_zero),
                cmocka_unit_test(test_restart_just_before_the_poll_waits_for_a_span),
                cmocka_unit_test(test_rates_match_rows_by_name),
                cmocka_unit_test(test_sort_by_rps_ties_by_name_unknown_last),
                cmocka_unit_test(test_sort_by_latency_takes_p99_else_average),
                cmocka_unit_test(test_sort_by_memory),
                cmocka_unit_test(test_sort_by_cpu),
                cmocka_unit_test(test_sort_by_name_nameless_last),
                cmocka_unit_test(test_sort_of_nameless_ties_keeps_the_reply_order),
                cmocka_unit_test(test_print_frame_header_and_table),
                cmocka_unit_test(test_print_keys_line_on_the_terminal),
                cmocka_unit_test(test_print_cuts_lines_to_the_width),
                cmocka_unit_test(test_print_cuts_rows_to_the_height),
                cmocka_unit_test(test_print_cuts_long_names),
                cmocka_unit_test(test_units_of_bytes_and_rates),
                cmocka_unit_test(test_json_frame_has_nulls_for_unknowns),
        };
        return cmocka_run_group_tests_name("ctl-top", tests, setup_utc, NULL);
}
