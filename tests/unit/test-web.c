/* SPDX-License-Identifier: MIT */
/* emperor-web's pieces that do not need a network: /metrics from a status reply (metrics.c)
 * and the --http-auth file, logins and sessions (auth.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <crypt.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "http.h"
#include "macro.h"
#include "metrics.h"

static char *render(const char *vassals_json) {
        cJSON *v = cJSON_Parse(vassals_json);
        Buf b = {};
        assert_non_null(v);
        metrics_render(&b, v, getpid());
        cJSON_Delete(v);
        assert_false(b.oom);
        return b.data;
}

static void test_metrics_samples_per_vassal(void **state) {
        (void) state;
        _cleanup_free_ char *m = render(
                "[{\"name\":\"a\",\"state\":\"running\",\"restarts\":2,\"requests\":26,"
                "\"exceptions\":1,\"errors\":3,\"workers\":{\"busy\":1,\"total\":4},\"rss\":1000,"
                "\"avg_rt_ms\":2.5,\"listen_queue\":0,\"uptime\":12,\"cpu_time\":1.5},"
                "{\"name\":\"b\",\"state\":\"crash-loop\",\"restarts\":0,\"requests\":null,"
                "\"workers\":null,\"cpu_time\":null}]");
        assert_non_null(strstr(m, "emperor_vassal_requests_total{vassal=\"a\"} 26\n"));
        assert_non_null(strstr(m, "emperor_vassal_up{vassal=\"a\"} 1\n"));
        assert_non_null(strstr(m, "emperor_vassal_up{vassal=\"b\"} 0\n"));
        assert_non_null(strstr(m, "emperor_vassal_workers_busy{vassal=\"a\"} 1\n"));
        assert_non_null(strstr(m, "emperor_vassal_avg_response_seconds{vassal=\"a\"} 0.0025\n"));
        /* Not reported: 0 for the gauges, as before; no CPU sample rather than a false 0. */
        assert_non_null(strstr(m, "emperor_vassal_requests_total{vassal=\"b\"} 0\n"));
        assert_non_null(strstr(m, "emperor_vassal_cpu_seconds_total{vassal=\"a\"} 1.5\n"));
        assert_null(strstr(m, "emperor_vassal_cpu_seconds_total{vassal=\"b\"}"));
        assert_non_null(strstr(m, "emperor_vassals{state=\"running\"} 1\n"));
        assert_non_null(strstr(m, "emperor_vassals{state=\"crash-loop\"} 1\n"));
        assert_non_null(strstr(m, "emperor_vassals{state=\"stopped\"} 0\n"));
        assert_non_null(strstr(m, "# TYPE emperor_vassal_response_seconds histogram\n"));
}

static void test_metrics_label_escaped(void **state) {
        (void) state;
        _cleanup_free_ char *m = render("[{\"name\":\"a\\\"b\\\\c\\nd\",\"state\":\"running\"}]");
        assert_non_null(strstr(m, "emperor_vassal_up{vassal=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

/* Bounds that do not increase are skipped, counts never go down, +Inf is at least the last
 * bucket: the output stays a valid histogram whatever a vassal sent. */
static void test_metrics_histogram_checked(void **state) {
        (void) state;
        _cleanup_free_ char *m = render(
                "[{\"name\":\"h\",\"state\":\"running\",\"rt_hist\":{\"le_us\":[1000,500,2000,"
                "null,4000],\"counts\":[5,6,3,9,8],\"count\":2,\"sum_us\":-5}}]");
        assert_non_null(strstr(m, "_bucket{vassal=\"h\",le=\"0.001\"} 5\n"));
        assert_null(strstr(m, "le=\"0.0005\""));
        assert_non_null(strstr(m, "_bucket{vassal=\"h\",le=\"0.002\"} 5\n"));
        assert_non_null(strstr(m, "_bucket{vassal=\"h\",le=\"0.004\"} 8\n"));
        assert_non_null(strstr(m, "_bucket{vassal=\"h\",le=\"+Inf\"} 8\n"));
        assert_non_null(strstr(m, "emperor_vassal_response_seconds_count{vassal=\"h\"} 8\n"));
        assert_non_null(strstr(m, "emperor_vassal_response_seconds_sum{vassal=\"h\"} 0\n"));
        _cleanup_free_ char *n = render(
                "[{\"name\":\"h\",\"state\":\"running\",\"rt_hist\":{\"le_us\":[1],\"counts\":[]}}]");
        assert_null(strstr(n, "_bucket"));
}

/* Values print as the shortest decimal that reads back as the same double: 0.1 ms is 0.0001,
 * not 0.00010000000000000000479; a large counter keeps every digit; a third keeps 17. */
static void test_metrics_numbers_shortest_round_trip(void **state) {
        (void) state;
        _cleanup_free_ char *m = render(
                "[{\"name\":\"a\",\"state\":\"running\",\"avg_rt_ms\":0.1,"
                "\"requests\":123456789012,\"uptime\":0.3333333333333333,\"cpu_time\":1e-7,"
                "\"rss\":1e300}]");
        assert_non_null(strstr(m, "emperor_vassal_avg_response_seconds{vassal=\"a\"} 0.0001\n"));
        assert_non_null(strstr(m, "emperor_vassal_requests_total{vassal=\"a\"} 123456789012\n"));
        assert_non_null(strstr(m, "emperor_vassal_uptime_seconds{vassal=\"a\"} "
                                  "0.3333333333333333\n"));
        assert_non_null(strstr(m, "emperor_vassal_cpu_seconds_total{vassal=\"a\"} 1e-07\n"));
        assert_non_null(strstr(m, "emperor_vassal_rss_bytes{vassal=\"a\"} 1e+300\n"));
        /* Every value reads back as the double it came from. */
        for (const char *l = m; (l = strstr(l, "vassal=\"a\"} ")); l++) {
                char *end;
                double x = strtod(strchr(l, '}') + 2, &end);
                assert_true(*end == '\n');
                assert_false(isnan(x));
        }
}

/* ---- auth ---- */

static char path[64];

static void write_users(const char *text) {
        strcpy(path, "/tmp/test-web-users.XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

static char *hash_of(const char *password) {
        struct crypt_data cd = {};
        const char *salt = crypt_gensalt_rn("$6$", 0, NULL, 0, cd.setting, sizeof(cd.setting));
        assert_non_null(salt);
        const char *h = crypt_r(password, salt, &cd);
        assert_non_null(h);
        return strdup(h);
}

static void parse_request(const char *text, HttpRequest *req) {
        assert_true(http_request_parse(text, strlen(text), req) > 0);
}

static void test_auth_login_session_logout(void **state) {
        char text[512], error[256], req_text[512];
        Auth *a = NULL;
        HttpRequest req;
        const char *csrf;
        (void) state;

        _cleanup_free_ char *h = hash_of("sekret");
        snprintf(text, sizeof(text), "# users\n\nadmin:%s\n", h);
        write_users(text);
        assert_int_equal(auth_new(path, &a, error, sizeof(error)), 0);
        unlink(path);

        _cleanup_free_ char *cookie = NULL;
        assert_int_equal(auth_login(a, "admin", "wrong", &cookie), -EACCES);
        assert_int_equal(auth_login(a, "nobody", "sekret", &cookie), -EACCES);
        assert_int_equal(auth_login(a, "admin", "sekret", &cookie), 0);
        assert_non_null(strstr(cookie, "HttpOnly"));
        assert_non_null(strstr(cookie, "SameSite=Strict"));
        char id[80];
        assert_int_equal(sscanf(cookie, "emperor_session=%64[0-9a-f]", id), 1);

        snprintf(req_text, sizeof(req_text), "GET / HTTP/1.1\r\nHost: x\r\nCookie: a=b; "
                 "emperor_session=%s\r\n\r\n", id);
        parse_request(req_text, &req);
        assert_string_equal(auth_check(a, &req, &csrf), "admin");
        assert_non_null(csrf);
        assert_int_equal(strlen(csrf), 64);

        /* A cookie that is not a session's, Basic credentials right and wrong. */
        parse_request("GET / HTTP/1.1\r\nHost: x\r\nCookie: emperor_session="
                      "0000000000000000000000000000000000000000000000000000000000000000\r\n\r\n",
                      &req);
        assert_null(auth_check(a, &req, &csrf));
        parse_request("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46c2VrcmV0\r\n\r\n",
                      &req); /* admin:sekret */
        assert_string_equal(auth_check(a, &req, &csrf), "admin");
        assert_null(csrf); /* no session: no token, so no POST */
        parse_request("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46d3Jvbmc=\r\n\r\n",
                      &req); /* admin:wrong */
        assert_null(auth_check(a, &req, &csrf));

        parse_request(req_text, &req);
        auth_logout(a, &req);
        assert_null(auth_check(a, &req, &csrf));
        auth_free(a);
}

static void test_auth_file_refused(void **state) {
        char error[256];
        Auth *a = NULL;
        (void) state;

        write_users("admin:plaintext-password\n");
        assert_int_equal(auth_new(path, &a, error, sizeof(error)), -EINVAL);
        assert_non_null(strstr(error, ":1: expected user:hash"));
        unlink(path);
        write_users("# nobody here\n");
        assert_int_equal(auth_new(path, &a, error, sizeof(error)), -EINVAL);
        assert_non_null(strstr(error, "no users"));
        unlink(path);
        assert_int_equal(auth_new("/nonexistent/users", &a, error, sizeof(error)), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_metrics_samples_per_vassal),
                cmocka_unit_test(test_metrics_label_escaped),
                cmocka_unit_test(test_metrics_histogram_checked),
                cmocka_unit_test(test_metrics_numbers_shortest_round_trip),
                cmocka_unit_test(test_auth_login_session_logout),
                cmocka_unit_test(test_auth_file_refused),
        };
        return cmocka_run_group_tests_name("web", tests, NULL, NULL);
}
