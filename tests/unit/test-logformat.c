/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logformat.h"
#include "macro.h"

/* A finished request as the worker logs it: nginx's variables through uwsgi_pass. */
typedef struct Fixture {
        Request r;
        LogRequest q;
        LogClock clock;
        char line[LOGFORMAT_LINE_MAX];
} Fixture;

static void add_var(Request *r, const char *k, const char *v) {
        r->vars[r->n_vars++] = (RequestVar) { k, strlen(k), v, strlen(v) };
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        assert_non_null(f);
        Request *r = &f->r;
        add_var(r, "REQUEST_METHOD", "GET");
        add_var(r, "REQUEST_URI", "/a?b=1");
        add_var(r, "SERVER_PROTOCOL", "HTTP/1.1");
        add_var(r, "REMOTE_ADDR", "203.0.113.7");
        add_var(r, "HTTP_HOST", "example.org");
        add_var(r, "HTTP_USER_AGENT", "curl/8");
        add_var(r, "HTTP_X_FORWARDED_FOR", " 198.51.100.2 , 10.0.0.1");
        r->method = "GET";
        r->method_len = 3;
        r->uri = "/a?b=1";
        r->uri_len = 6;
        r->status = 404;
        r->bytes_sent = 1234;
        strcpy(r->status_line, "HTTP/1.1 404 Not Found\r\n");
        r->status_line_len = strlen(r->status_line);
        r->headers = (char *) "Content-Type: text/plain\r\nContent-Length: 1234\r\n";
        r->headers_len = strlen(r->headers);
        f->q = (LogRequest) {
                .r = r,
                .pid = 4242,
                .worker_id = 2,
                .core = 3,
                .worker_requests = 17,
                .total_requests = 99,
                .elapsed_us = 45678,
                /* 2016-03-06 22:56:30 UTC, plus the request's 45678 µs */
                .end_realtime_us = 1457304990LL * 1000000 + 45678,
        };
        *state = f;
        return 0;
}

static int teardown(void **state) {
        free(*state);
        return 0;
}

static const char *render(Fixture *f, const char *fmt, const LogFormatOptions *o) {
        LogFormat *lf = NULL;
        char msg[256];
        assert_int_equal(logformat_compile(fmt, o ?: &(LogFormatOptions) {}, &lf, msg,
                                           sizeof(msg)), 0);
        size_t n = logformat_render(lf, &f->q, &f->clock, f->line);
        assert_true(n > 0 && n <= LOGFORMAT_LINE_MAX);
        assert_int_equal(f->line[n - 1], '\n');
        f->line[n - 1] = 0;
        logformat_free(lf);
        f->clock.valid = false;
        return f->line;
}

static void test_default_line_is_uwsgis(void **state) {
        Fixture *f = *state;
        char want[512];
        /* The vars as a uwsgi packet: 2+2 bytes of lengths per var, plus keys and values. */
        size_t pkt = 0;
        for (size_t i = 0; i < f->r.n_vars; i++)
                pkt += 4 + f->r.vars[i].key_len + f->r.vars[i].value_len;
        struct tm tm;
        time_t start = 1457304990;
        char date[64];
        localtime_r(&start, &tm);
        strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
        snprintf(want, sizeof(want),
                 "[pid: 4242|app: 0|req: 17/99] 203.0.113.7 () {7 vars in %zu bytes} [%s] "
                 "GET /a?b=1 => generated 1234 bytes in 45 msecs (HTTP/1.1 404) 2 headers in "
                 "74 bytes (1 switches on core 3)", pkt, date);
        assert_string_equal(render(f, NULL, NULL), want);
}

static void test_log_micros_says_micros(void **state) {
        Fixture *f = *state;
        const char *l = render(f, NULL, &(LogFormatOptions) { .micros = true });
        assert_non_null(strstr(l, " => generated 1234 bytes in 45678 micros (HTTP/1.1 404) "));
}

static void test_apache_combined_format(void **state) {
        Fixture *f = *state;
        setenv("TZ", "UTC", 1);
        tzset();
        assert_string_equal(render(f, "%(addr) - %(user) [%(ltime)] \"%(method) %(uri) %(proto)\" "
                                      "%(status) %(size) \"%(referer)\" \"%(uagent)\"", NULL),
                            "203.0.113.7 -  [06/Mar/2016:22:56:30 +0000] \"GET /a?b=1 HTTP/1.1\" "
                            "404 1308 \"\" \"curl/8\"");
}

static void test_numbers_and_times(void **state) {
        Fixture *f = *state;
        setenv("TZ", "UTC", 1);
        tzset();
        assert_string_equal(
                render(f, "%(msecs) %(micros) %(secs) %(time) %(tmsecs) %(epoch) %(pid) %(wid) "
                          "%(core) %(vars) %(headers) %(hsize) %(rsize) %(switches) %(host) "
                          "%(cl) [%(ctime)]", NULL),
                "45 45678 0.0457 1457304990 1457304990000 1457304990 4242 2 3 7 2 74 1234 1 "
                "example.org 0 [Sun Mar  6 22:56:30 2016]");
}

static void test_var_dot_names_any_variable(void **state) {
        Fixture *f = *state;
        assert_string_equal(render(f, "<%(var.HTTP_HOST)><%(var.NOPE)>", NULL),
                            "<example.org><>");
}

static void test_x_forwarded_for_gives_the_first_address(void **state) {
        Fixture *f = *state;
        assert_string_equal(render(f, "%(addr)", &(LogFormatOptions) { .x_forwarded_for = true }),
                            "198.51.100.2");
        assert_string_equal(render(f, "%(addr)", NULL), "203.0.113.7");
        /* Without the header: REMOTE_ADDR. */
        f->r.n_vars--;
        assert_string_equal(render(f, "%(addr)", &(LogFormatOptions) { .x_forwarded_for = true }),
                            "203.0.113.7");
}

static void test_strftime_applies_to_literals_only(void **state) {
        Fixture *f = *state;
        setenv("TZ", "UTC", 1);
        tzset();
        f->r.uri = "/%Y";
        f->r.uri_len = 3;
        assert_string_equal(render(f, "%Y-%m-%d %(uri)", &(LogFormatOptions) { .strftime = true }),
                            "2016-03-06 /%Y");
        assert_string_equal(render(f, "%Y %(uri)", NULL), "%Y /%Y");
}

static void test_ftime_uses_log_date_format(void **state) {
        Fixture *f = *state;
        setenv("TZ", "UTC", 1);
        tzset();
        assert_string_equal(render(f, "%(ftime)",
                                   &(LogFormatOptions) { .date_format = "%Y/%m/%d %H.%M" }),
                            "2016/03/06 22.56");
}

static void test_a_newline_in_a_value_cannot_forge_a_line(void **state) {
        Fixture *f = *state;
        f->r.uri = "/x\nfake";
        f->r.uri_len = 7;
        assert_string_equal(render(f, "%(uri)", NULL), "/x fake");
}

static void test_long_values_are_cut_and_end_the_line(void **state) {
        Fixture *f = *state;
        static char big[3 * LOGFORMAT_LINE_MAX];
        memset(big, 'u', sizeof(big));
        f->r.uri = big;
        f->r.uri_len = sizeof(big);
        const char *l = render(f, "%(uri)%(uri)", NULL);
        assert_int_equal(strlen(l), LOGFORMAT_LINE_MAX - 1);
}

static void test_bad_formats_are_refused(void **state) {
        LogFormat *lf = NULL;
        char msg[256];
        (void) state;
        const char *bad[] = { "%(", "x %(addr", "%()", "%(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa)" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(logformat_compile(bad[i], &(LogFormatOptions) {}, &lf, msg,
                                                   sizeof(msg)), -EINVAL);
                assert_true(msg[0] != 0);
        }
}

static void test_unknown_names_warn_and_stay_empty(void **state) {
        Fixture *f = *state;
        LogFormat *lf = NULL;
        char msg[256];
        assert_int_equal(logformat_compile("a%(request_id)b %", &(LogFormatOptions) {}, &lf, msg,
                                           sizeof(msg)), 0);
        assert_non_null(strstr(msg, "%(request_id)"));
        size_t n = logformat_render(lf, &f->q, &f->clock, f->line);
        assert_int_equal(n, 5);
        assert_memory_equal(f->line, "ab %\n", 5);
        logformat_free(lf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_default_line_is_uwsgis, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log_micros_says_micros, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apache_combined_format, setup, teardown),
                cmocka_unit_test_setup_teardown(test_numbers_and_times, setup, teardown),
                cmocka_unit_test_setup_teardown(test_var_dot_names_any_variable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_x_forwarded_for_gives_the_first_address,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_strftime_applies_to_literals_only, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_ftime_uses_log_date_format, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_newline_in_a_value_cannot_forge_a_line,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_long_values_are_cut_and_end_the_line, setup,
                                                teardown),
                cmocka_unit_test(test_bad_formats_are_refused),
                cmocka_unit_test_setup_teardown(test_unknown_names_warn_and_stay_empty, setup,
                                                teardown),
        };
        return cmocka_run_group_tests_name("logformat", tests, NULL, NULL);
}
