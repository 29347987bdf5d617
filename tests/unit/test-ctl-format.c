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

#include <cJSON.h>

#include "../../ctl/format.h" /* the pattern rule adds no -Ictl */
#include "macro.h"

/* Output captured in memory, compared as exact text. */
typedef struct Capture {
        char *text;
        size_t size;
        FILE *f;
} Capture;

static void capture_start(Capture *c) {
        *c = (Capture) {};
        c->f = open_memstream(&c->text, &c->size);
        assert_non_null(c->f);
}

/* Ends the capture; the text stays in c->text until capture_free(). */
static const char *capture_end(Capture *c) {
        assert_int_equal(fclose(c->f), 0);
        c->f = NULL;
        return c->text;
}

static void capture_free(Capture *c) {
        free(c->text);
        c->text = NULL;
}

static cJSON *parse(const char *json) {
        cJSON *j = cJSON_Parse(json);
        assert_non_null(j);
        return j;
}

/* The status table of a reply's "vassals". */
static void assert_table(const char *reply_json, const char *expected) {
        cJSON *reply = parse(reply_json);
        Capture c;

        capture_start(&c);
        assert_int_equal(format_status_table(c.f, cJSON_GetObjectItem(reply, "vassals")), 0);
        assert_string_equal(capture_end(&c), expected);
        capture_free(&c);
        cJSON_Delete(reply);
}

static void assert_detail(const char *vassal_json, const char *expected) {
        cJSON *v = parse(vassal_json);
        Capture c;

        capture_start(&c);
        assert_int_equal(format_status_detail(c.f, v), 0);
        assert_string_equal(capture_end(&c), expected);
        capture_free(&c);
        cJSON_Delete(v);
}

static void assert_duration(double seconds, const char *expected) {
        char buf[32];
        assert_string_equal(format_duration(seconds, buf, sizeof(buf)), expected);
}

static void test_duration_shows_the_two_largest_units(void **state) {
        (void) state;
        assert_duration(0, "0s");
        assert_duration(0.9, "0s");
        assert_duration(45, "45s");
        assert_duration(59.99, "59s");
        assert_duration(60, "1m00s");
        assert_duration(192, "3m12s");
        assert_duration(3599, "59m59s");
        assert_duration(3600, "1h00m");
        assert_duration(7512.5, "2h05m");
        assert_duration(86399, "23h59m");
        assert_duration(86400, "1d00h");
        assert_duration(3 * 86400 + 4 * 3600 + 59 * 60, "3d04h");
        assert_duration(400 * 86400.0, "400d00h");
}

static void test_duration_of_nonsense_is_a_dash(void **state) {
        (void) state;
        assert_duration(-1, "-");
        assert_duration(NAN, "-");
        assert_duration(INFINITY, "-");
        assert_duration(1e300, "-");
}

static int reply_exit(const char *json, const char **ret_error) {
        cJSON *reply = parse(json);
        int r = format_reply_exit(reply, ret_error);
        cJSON_Delete(reply);
        return r;
}

static void test_reply_codes_map_to_exit_statuses(void **state) {
        const char *error = NULL;
        (void) state;

        assert_int_equal(reply_exit("{\"ok\":true,\"message\":\"x\"}", &error), CTL_EXIT_OK);
        assert_int_equal(
                reply_exit("{\"ok\":false,\"code\":\"no-such-vassal\",\"error\":\"e\"}", &error),
                CTL_EXIT_NO_SUCH_VASSAL);
        assert_int_equal(reply_exit("{\"ok\":false,\"code\":\"usage\"}", &error), CTL_EXIT_USAGE);
        assert_int_equal(reply_exit("{\"ok\":false,\"code\":\"bad-request\"}", &error),
                         CTL_EXIT_USAGE);
        assert_int_equal(reply_exit("{\"ok\":false,\"code\":\"too-large\"}", &error),
                         CTL_EXIT_USAGE);
        assert_int_equal(reply_exit("{\"ok\":false,\"code\":\"permission-denied\"}", &error),
                         CTL_EXIT_FAILED);
        assert_int_equal(reply_exit("{\"ok\":false,\"code\":\"failed\"}", &error),
                         CTL_EXIT_FAILED);
        assert_int_equal(reply_exit("{\"ok\":false,\"code\":\"from-the-future\"}", &error),
                         CTL_EXIT_FAILED);
        assert_int_equal(reply_exit("{\"ok\":false,\"code\":7}", &error), CTL_EXIT_FAILED);
}

static void test_failed_reply_explains_with_error_then_code(void **state) {
        cJSON *reply = parse("{\"ok\":false,\"code\":\"failed\",\"error\":\"cannot fork\"}");
        const char *error = NULL;
        (void) state;

        assert_int_equal(format_reply_exit(reply, &error), CTL_EXIT_FAILED);
        assert_string_equal(error, "cannot fork");
        cJSON_Delete(reply);

        reply = parse("{\"ok\":false,\"code\":\"failed\",\"error\":\"\"}");
        assert_int_equal(format_reply_exit(reply, &error), CTL_EXIT_FAILED);
        assert_string_equal(error, "failed");
        cJSON_Delete(reply);

        reply = parse("{\"ok\":false,\"error\":null}");
        assert_int_equal(format_reply_exit(reply, &error), CTL_EXIT_FAILED);
        assert_string_equal(error, "the command failed (the emperor gave no reason)");
        cJSON_Delete(reply);
}

static void test_reply_without_boolean_ok_is_malformed(void **state) {
        const char *error = NULL;
        (void) state;

        assert_int_equal(reply_exit("[1,2]", &error), CTL_EXIT_FAILED);
        assert_string_equal(error, "malformed reply from the emperor: not a JSON object");
        assert_int_equal(reply_exit("\"ok\"", &error), CTL_EXIT_FAILED);
        assert_int_equal(reply_exit("{\"message\":\"hi\"}", &error), CTL_EXIT_FAILED);
        assert_string_equal(error, "malformed reply from the emperor: no boolean \"ok\"");
        assert_int_equal(reply_exit("{\"ok\":1}", &error), CTL_EXIT_FAILED);
        assert_int_equal(reply_exit("{\"ok\":\"true\"}", &error), CTL_EXIT_FAILED);
        assert_int_equal(reply_exit("{\"ok\":null}", &error), CTL_EXIT_FAILED);
        assert_int_equal(format_reply_exit(NULL, &error), CTL_EXIT_FAILED);
}

static void assert_state(const char *vassal_json, const char *expected) {
        cJSON *v = parse(vassal_json);
        char buf[64];

        assert_string_equal(format_state(v, buf, sizeof(buf)), expected);
        cJSON_Delete(v);
}

static void test_state_of_crash_loop_shows_the_backoff_rounded_up(void **state) {
        (void) state;
        assert_state("{\"state\":\"crash-loop\",\"backoff\":4}", "crash-loop (retry in 4s)");
        assert_state("{\"state\":\"crash-loop\",\"backoff\":3.2}", "crash-loop (retry in 4s)");
        assert_state("{\"state\":\"crash-loop\",\"backoff\":90}", "crash-loop (retry in 1m30s)");
        assert_state("{\"state\":\"crash-loop\",\"backoff\":0}", "crash-loop (retry in 0s)");
        assert_state("{\"state\":\"crash-loop\",\"backoff\":null}", "crash-loop");
        assert_state("{\"state\":\"crash-loop\",\"backoff\":\"soon\"}", "crash-loop");
        assert_state("{\"state\":\"crash-loop\"}", "crash-loop");
        assert_state("{\"state\":\"running\",\"backoff\":4}", "running");
}

static void test_state_missing_or_not_a_string_is_a_dash(void **state) {
        (void) state;
        assert_state("{}", "-");
        assert_state("{\"state\":null}", "-");
        assert_state("{\"state\":3}", "-");
        assert_state("{\"state\":\"\"}", "-");
        assert_state("[]", "-");
}

static void test_table_aligns_every_column(void **state) {
        (void) state;
        assert_table(
                "{\"ok\":true,\"vassals\":["
                "{\"name\":\"hello\",\"state\":\"running\",\"pid\":4242,\"uptime\":7512.5,"
                "\"restarts\":0,\"workers\":{\"busy\":1,\"total\":2},\"requests\":1234,"
                "\"last_exit\":null,\"last_error\":null},"
                "{\"name\":\"api\",\"state\":\"crash-loop\",\"backoff\":4,\"pid\":null,"
                "\"uptime\":null,\"restarts\":17,\"workers\":{\"busy\":0,\"total\":16},"
                "\"requests\":0,\"last_error\":\"api.ini:3: no module named 'x'\"},"
                "{\"name\":\"a-long-vassal-name\",\"state\":\"starting\",\"pid\":7,"
                "\"uptime\":3.9,\"restarts\":0,\"workers\":{\"busy\":0,\"total\":0},"
                "\"requests\":1000000000000}]}",
                "NAME                STATE                      PID  UPTIME  WORKERS       REQUESTS  RESTARTS  LAST ERROR\n"
                "hello               running                   4242   2h05m      1/2           1234         0  -\n"
                "api                 crash-loop (retry in 4s)     -       -     0/16              0        17  api.ini:3: no module named 'x'\n"
                "a-long-vassal-name  starting                     7      3s      0/0  1000000000000         0  -\n");
}

static void test_table_prints_a_dash_for_missing_null_and_mistyped_fields(void **state) {
        (void) state;
        assert_table("{\"vassals\":[{\"name\":\"bare\"},"
                     "{\"name\":null,\"state\":null,\"pid\":null,\"uptime\":null,"
                     "\"workers\":null,\"requests\":null,\"restarts\":null,\"last_error\":null},"
                     "{\"name\":5,\"state\":[],\"pid\":\"12\",\"uptime\":\"1h\",\"workers\":[1],"
                     "\"requests\":true,\"restarts\":{},\"last_error\":{\"a\":1}},"
                     "{\"name\":\"half\",\"workers\":{\"total\":4,\"busy\":\"x\"}},"
                     "7]}",
                     "NAME  STATE  PID  UPTIME  WORKERS  REQUESTS  RESTARTS  LAST ERROR\n"
                     "bare  -        -       -        -         -         -  -\n"
                     "-     -        -       -        -         -         -  -\n"
                     "-     -        -       -        -         -         -  -\n"
                     "half  -        -       -      -/4         -         -  -\n"
                     "-     -        -       -        -         -         -  -\n");
}

static void test_table_of_no_vassals_says_so(void **state) {
        (void) state;
        assert_table("{\"ok\":true,\"vassals\":[]}", "no vassals\n");
}

static void test_table_truncates_long_errors_to_sixty_columns(void **state) {
        (void) state;
        /* 70 characters: cut to 57, then "...". */
        assert_table("{\"vassals\":[{\"name\":\"a\",\"last_error\":"
                     "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}]}",
                     "NAME  STATE  PID  UPTIME  WORKERS  REQUESTS  RESTARTS  LAST ERROR\n"
                     "a     -        -       -        -         -         -  "
                     "012345678901234567890123456789012345678901234567890123456...\n");
        /* Exactly 60: kept whole. */
        assert_table("{\"vassals\":[{\"name\":\"a\",\"last_error\":"
                     "\"012345678901234567890123456789012345678901234567890123456789\"}]}",
                     "NAME  STATE  PID  UPTIME  WORKERS  REQUESTS  RESTARTS  LAST ERROR\n"
                     "a     -        -       -        -         -         -  "
                     "012345678901234567890123456789012345678901234567890123456789\n");
}

static void test_table_keeps_the_first_line_of_an_error(void **state) {
        (void) state;
        assert_table("{\"vassals\":[{\"name\":\"a\",\"last_error\":\"first\\nsecond\\n\"},"
                     "{\"name\":\"b\",\"last_error\":\"only line\\r\\n\\n\"},"
                     "{\"name\":\"c\",\"last_error\":\"tab\\there\\u001b[31m red\"}]}",
                     "NAME  STATE  PID  UPTIME  WORKERS  REQUESTS  RESTARTS  LAST ERROR\n"
                     "a     -        -       -        -         -         -  first...\n"
                     "b     -        -       -        -         -         -  only line\n"
                     "c     -        -       -        -         -         -  tab here?[31m red\n");
}

static void test_table_counts_columns_not_bytes(void **state) {
        (void) state;
        /* "é" is two bytes and one column: the names align, and the cut keeps whole
         * characters. */
        assert_table("{\"vassals\":[{\"name\":\"caf\\u00e9\",\"state\":\"running\",\"last_error\":"
                     "\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                     "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                     "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                     "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                     "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                     "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                     "\\u00e9\\u00e9\"},{\"name\":\"tea\"}]}",
                     "NAME  STATE    PID  UPTIME  WORKERS  REQUESTS  RESTARTS  LAST ERROR\n"
                     "café  running    -       -        -         -         -  "
                     "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééé...\n"
                     "tea   -          -       -        -         -         -  -\n");
}

static void test_detail_prints_every_field_one_per_line(void **state) {
        (void) state;
        assert_detail("{\"name\":\"hello\",\"state\":\"running\",\"pid\":4242,\"uptime\":7512.5,"
                      "\"restarts\":0,\"workers\":{\"busy\":1,\"total\":2},\"requests\":1234,"
                      "\"last_exit\":\"killed by signal KILL\",\"last_error\":null,"
                      "\"ini\":\"/etc/apps.d/hello.ini\","
                      "\"sockets\":[\"127.0.0.1:8080\",\"unix:/run/emperor/hello.sock\"],"
                      "\"worker_pids\":[4243,4244],\"uid\":33}",
                      "name:        hello\n"
                      "state:       running\n"
                      "pid:         4242\n"
                      "uptime:      2h05m\n"
                      "workers:     1 busy / 2 total\n"
                      "worker pids: 4243 4244\n"
                      "requests:    1234\n"
                      "restarts:    0\n"
                      "ini:         /etc/apps.d/hello.ini\n"
                      "sockets:     127.0.0.1:8080, unix:/run/emperor/hello.sock\n"
                      "uid:         33\n"
                      "last exit:   killed by signal KILL\n"
                      "last error:  -\n");
}

static void test_detail_shows_the_whole_error_indented(void **state) {
        (void) state;
        assert_detail("{\"name\":\"api\",\"state\":\"crash-loop\",\"backoff\":3.2,"
                      "\"worker_pids\":[],\"sockets\":[],"
                      "\"last_error\":\"api.ini:3: import failed\\r\\nTraceback:\\n"
                      "  File \\\"app.py\\\"\\n\\n\"}",
                      "name:        api\n"
                      "state:       crash-loop (retry in 4s)\n"
                      "pid:         -\n"
                      "uptime:      -\n"
                      "workers:     -\n"
                      "worker pids: -\n"
                      "requests:    -\n"
                      "restarts:    -\n"
                      "ini:         -\n"
                      "sockets:     -\n"
                      "uid:         -\n"
                      "last exit:   -\n"
                      "last error:  api.ini:3: import failed\n"
                      "             Traceback:\n"
                      "               File \"app.py\"\n");
}

static void test_detail_of_mistyped_fields_prints_dashes(void **state) {
        (void) state;
        assert_detail("{\"name\":7,\"state\":{},\"pid\":\"x\",\"uptime\":\"long\","
                      "\"workers\":{\"busy\":\"x\"},\"worker_pids\":{\"a\":1},"
                      "\"requests\":true,\"restarts\":[],\"ini\":3,\"sockets\":\"nope\","
                      "\"uid\":null,\"last_exit\":false,\"last_error\":12}",
                      "name:        -\n"
                      "state:       -\n"
                      "pid:         -\n"
                      "uptime:      -\n"
                      "workers:     - busy / - total\n"
                      "worker pids: -\n"
                      "requests:    -\n"
                      "restarts:    -\n"
                      "ini:         -\n"
                      "sockets:     -\n"
                      "uid:         -\n"
                      "last exit:   -\n"
                      "last error:  -\n");
}

static void test_detail_lists_fields_it_does_not_know(void **state) {
        (void) state;
        assert_detail("{\"name\":\"new\",\"listen_queue_max\":12,\"flags\":[\"a\",1],"
                      "\"load\":0.25,\"paused\":true,\"note\":null,\"owner\":\"www-data\"}",
                      "name:             new\n"
                      "state:            -\n"
                      "pid:              -\n"
                      "uptime:           -\n"
                      "workers:          -\n"
                      "worker pids:      -\n"
                      "requests:         -\n"
                      "restarts:         -\n"
                      "ini:              -\n"
                      "sockets:          -\n"
                      "uid:              -\n"
                      "last exit:        -\n"
                      "last error:       -\n"
                      "listen queue max: 12\n"
                      "flags:            [\"a\",1]\n"
                      "load:             0.25\n"
                      "paused:           true\n"
                      "note:             -\n"
                      "owner:            www-data\n");
}

static void test_detail_prints_the_live_numbers_it_is_sent(void **state) {
        (void) state;
        assert_detail("{\"name\":\"app\",\"errors\":3,\"avg_rt_ms\":2.5,\"p99_rt_ms\":null,"
                      "\"rss\":49610752,\"cpu\":12.34,\"listen_queue\":0,\"stats_age\":0.4}",
                      "name:         app\n"
                      "state:        -\n"
                      "pid:          -\n"
                      "uptime:       -\n"
                      "workers:      -\n"
                      "worker pids:  -\n"
                      "requests:     -\n"
                      "errors:       3\n"
                      "avg rt:       2.50 ms\n"
                      "p99 rt:       -\n"
                      "rss:          47.3 MiB\n"
                      "cpu:          12.3 % of a core\n"
                      "listen queue: 0\n"
                      "stats age:    0.4 s\n"
                      "restarts:     -\n"
                      "ini:          -\n"
                      "sockets:      -\n"
                      "uid:          -\n"
                      "last exit:    -\n"
                      "last error:   -\n");
}

static void test_detail_of_a_non_object_prints_dashes(void **state) {
        (void) state;
        assert_detail("[1,2]",
                      "name:        -\n"
                      "state:       -\n"
                      "pid:         -\n"
                      "uptime:      -\n"
                      "workers:     -\n"
                      "worker pids: -\n"
                      "requests:    -\n"
                      "restarts:    -\n"
                      "ini:         -\n"
                      "sockets:     -\n"
                      "uid:         -\n"
                      "last exit:   -\n"
                      "last error:  -\n");
}

/* format_status() on a reply: returns its result, the output in *ret_text (to free). */
static int status_of(const char *reply_json, const char *app, char **ret_text,
                     const char **ret_error) {
        cJSON *reply = parse(reply_json);
        Capture c;
        int r;

        capture_start(&c);
        r = format_status(c.f, reply, app, ret_error);
        (void) capture_end(&c);
        *ret_text = c.text;
        cJSON_Delete(reply);
        return r;
}

static void test_status_of_one_vassal_accepts_either_reply_shape(void **state) {
        const char *error = NULL;
        char *text;
        (void) state;

        /* {"vassal": {...}} */
        assert_int_equal(status_of("{\"ok\":true,\"vassal\":{\"name\":\"a\",\"pid\":1}}", "a",
                                   &text, &error), 0);
        assert_non_null(strstr(text, "name:        a\n"));
        assert_non_null(strstr(text, "pid:         1\n"));
        free(text);
        /* {"vassals": [...]}: the entry of that name, wherever it is */
        assert_int_equal(status_of("{\"ok\":true,\"vassals\":[{\"name\":\"a\",\"pid\":1},"
                                   "{\"name\":\"b\",\"pid\":2}]}", "b", &text, &error), 0);
        assert_non_null(strstr(text, "name:        b\n"));
        assert_non_null(strstr(text, "pid:         2\n"));
        free(text);
        /* its only entry */
        assert_int_equal(status_of("{\"ok\":true,\"vassals\":[{\"pid\":3}]}", "c", &text,
                                   &error), 0);
        assert_non_null(strstr(text, "pid:         3\n"));
        free(text);
}

static void test_status_reply_without_vassals_is_malformed(void **state) {
        const char *error = NULL;
        char *text;
        (void) state;

        assert_int_equal(status_of("{\"ok\":true}", NULL, &text, &error), -EBADMSG);
        assert_string_equal(error, "malformed reply from the emperor: no \"vassals\" list");
        assert_string_equal(text, "");
        free(text);
        assert_int_equal(status_of("{\"ok\":true,\"vassals\":{}}", NULL, &text, &error),
                         -EBADMSG);
        free(text);
        assert_int_equal(status_of("{\"ok\":true,\"vassals\":[{\"name\":\"a\"},{\"name\":\"b\"}]}",
                                   "c", &text, &error), -EBADMSG);
        assert_string_equal(error, "malformed reply from the emperor: no vassal in the status reply");
        free(text);
        assert_int_equal(status_of("{\"ok\":true,\"vassal\":null}", "c", &text, &error),
                         -EBADMSG);
        free(text);
}

static void test_message_is_printed_on_its_own_line(void **state) {
        const char *cases[][2] = {
                { "{\"ok\":true,\"message\":\"stopping 'x'\"}", "stopping 'x'\n" },
                { "{\"ok\":true,\"message\":\"done\\n\"}", "done\n" },
                { "{\"ok\":true,\"message\":\"\"}", "" },
                { "{\"ok\":true,\"message\":5}", "" },
                { "{\"ok\":true}", "" },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                cJSON *reply = parse(cases[i][0]);
                Capture c;

                capture_start(&c);
                format_message(c.f, reply);
                assert_string_equal(capture_end(&c), cases[i][1]);
                capture_free(&c);
                cJSON_Delete(reply);
        }
}

static void test_clean_line_is_safe_for_a_terminal(void **state) {
        char *s;
        (void) state;

        s = format_clean_line("bad\x1b[2Jname\nrest", 0);
        assert_string_equal(s, "bad?[2Jname");
        free(s);
        s = format_clean_line("abcdefghij", 8);
        assert_string_equal(s, "abcde...");
        free(s);
        s = format_clean_line("abcdefgh", 8);
        assert_string_equal(s, "abcdefgh");
        free(s);
        s = format_clean_line("", 8);
        assert_string_equal(s, "");
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_duration_shows_the_two_largest_units),
                cmocka_unit_test(test_duration_of_nonsense_is_a_dash),
                cmocka_unit_test(test_reply_codes_map_to_exit_statuses),
                cmocka_unit_test(test_failed_reply_explains_with_error_then_code),
                cmocka_unit_test(test_reply_without_boolean_ok_is_malformed),
                cmocka_unit_test(test_state_of_crash_loop_shows_the_backoff_rounded_up),
                cmocka_unit_test(test_state_missing_or_not_a_string_is_a_dash),
                cmocka_unit_test(test_table_aligns_every_column),
                cmocka_unit_test(test_table_prints_a_dash_for_missing_null_and_mistyped_fields),
                cmocka_unit_test(test_table_of_no_vassals_says_so),
                cmocka_unit_test(test_table_truncates_long_errors_to_sixty_columns),
                cmocka_unit_test(test_table_keeps_the_first_line_of_an_error),
                cmocka_unit_test(test_table_counts_columns_not_bytes),
                cmocka_unit_test(test_detail_prints_every_field_one_per_line),
                cmocka_unit_test(test_detail_shows_the_whole_error_indented),
                cmocka_unit_test(test_detail_of_mistyped_fields_prints_dashes),
                cmocka_unit_test(test_detail_lists_fields_it_does_not_know),
                cmocka_unit_test(test_detail_prints_the_live_numbers_it_is_sent),
                cmocka_unit_test(test_detail_of_a_non_object_prints_dashes),
                cmocka_unit_test(test_status_of_one_vassal_accepts_either_reply_shape),
                cmocka_unit_test(test_status_reply_without_vassals_is_malformed),
                cmocka_unit_test(test_message_is_printed_on_its_own_line),
                cmocka_unit_test(test_clean_line_is_safe_for_a_terminal),
        };
        return cmocka_run_group_tests_name("ctl-format", tests, NULL, NULL);
}
