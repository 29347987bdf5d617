/* SPDX-License-Identifier: MIT */
/* store_sample_from_stats(): a vassal's X_STATS object as a row of the stats store. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>
#include <math.h>

#include "store.h"

/* The sample of the X_STATS object text (which must be one). */
static StoreSample parse(const char *text) {
        StoreSample x = { .name = "app", .pid = 7 };
        cJSON *j = cJSON_Parse(text);
        assert_non_null(j);
        assert_true(store_sample_from_stats(j, &x));
        cJSON_Delete(j);
        /* Left alone: they are the caller's. */
        assert_string_equal(x.name, "app");
        assert_int_equal(x.pid, 7);
        return x;
}

/* A vassal with "errors" (5xx and exceptions): that is the store's errors. */
static void test_errors_from_errors(void **state) {
        (void) state;
        StoreSample x = parse("{\"workers\":[],\"requests\":100,\"exceptions\":2,\"errors\":9}");
        assert_int_equal(x.requests, 100);
        assert_int_equal(x.errors, 9);
        /* Even 0 errors beside exceptions (it cannot be, but "errors" is the truth). */
        x = parse("{\"workers\":[],\"exceptions\":2,\"errors\":0}");
        assert_int_equal(x.errors, 0);
}

/* An older vassal has only "exceptions"; a broken "errors" is as good as none. */
static void test_errors_fall_back_to_exceptions(void **state) {
        (void) state;
        StoreSample x = parse("{\"workers\":[],\"requests\":10,\"exceptions\":3}");
        assert_int_equal(x.errors, 3);
        x = parse("{\"workers\":[],\"exceptions\":3,\"errors\":\"many\"}");
        assert_int_equal(x.errors, 3);
        x = parse("{\"workers\":[],\"exceptions\":3,\"errors\":-1}");
        assert_int_equal(x.errors, 3);
        x = parse("{\"workers\":[]}");
        assert_int_equal(x.errors, 0);
}

/* p99_rt (µs) in ms; null or absent (no request in the interval, an older vassal) is
 * unknown, not 0. cpu likewise. */
static void test_p99_and_cpu(void **state) {
        (void) state;
        StoreSample x = parse("{\"workers\":[],\"p99_rt\":59800,\"cpu\":12.5,\"cpu_time\":1000}");
        assert_float_equal(x.p99_rt_ms, 59.8, 1e-9);
        assert_float_equal(x.cpu, 12.5, 1e-9);
        x = parse("{\"workers\":[],\"p99_rt\":null,\"cpu\":0}");
        assert_true(isnan(x.p99_rt_ms));
        assert_float_equal(x.cpu, 0, 1e-9);
        x = parse("{\"workers\":[]}");
        assert_true(isnan(x.p99_rt_ms));
        assert_true(isnan(x.cpu));
}

/* What the vassal sends today, whole: the new fields change none of the old ones. */
static void test_current_vassal_object(void **state) {
        (void) state;
        StoreSample x = parse(
                "{\"version\":\"0.1\",\"listen_queue\":2,\"listen_queue_errors\":0,"
                "\"signal_queue\":0,\"load\":1,\"pid\":42,\"uid\":1,\"gid\":1,\"cwd\":\"/\","
                "\"locks\":[],\"sockets\":[],\"workers\":["
                "{\"id\":1,\"pid\":43,\"requests\":6,\"exceptions\":1,\"errors\":2,"
                "\"harakiri_count\":0,\"status\":\"busy\",\"rss\":1000,\"avg_rt\":3000,"
                "\"respawn_count\":1},"
                "{\"id\":2,\"pid\":44,\"requests\":4,\"exceptions\":0,\"errors\":1,"
                "\"harakiri_count\":2,\"status\":\"idle\",\"rss\":24,\"avg_rt\":1000,"
                "\"respawn_count\":0}],"
                "\"requests\":10,\"exceptions\":1,\"errors\":3,"
                "\"rt_hist\":{\"le_us\":[250,400],\"counts\":[4,9],\"sum_us\":5000,\"count\":10},"
                "\"p99_rt\":1234,\"cpu\":3.25,\"cpu_time\":777}");
        assert_int_equal(x.requests, 10);
        assert_int_equal(x.errors, 3);
        assert_int_equal(x.listen_queue, 2);
        assert_int_equal(x.busy, 1);
        assert_int_equal(x.total, 2);
        assert_int_equal(x.rss, 1024);
        assert_int_equal(x.respawns, 1);
        assert_int_equal(x.harakiris, 2);
        assert_float_equal(x.avg_rt_ms, 2.0, 1e-9);
        assert_float_equal(x.p99_rt_ms, 1.234, 1e-9);
        assert_float_equal(x.cpu, 3.25, 1e-9);
}

static void test_not_stats(void **state) {
        StoreSample x = {};
        (void) state;
        const char *bad[] = { "[1]", "{}", "{\"workers\":{}}", "42" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cJSON *j = cJSON_Parse(bad[i]);
                assert_non_null(j);
                assert_false(store_sample_from_stats(j, &x));
                cJSON_Delete(j);
        }
        assert_false(store_sample_from_stats(NULL, &x));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_errors_from_errors),
                cmocka_unit_test(test_errors_fall_back_to_exceptions),
                cmocka_unit_test(test_p99_and_cpu),
                cmocka_unit_test(test_current_vassal_object),
                cmocka_unit_test(test_not_stats),
        };
        return cmocka_run_group_tests_name("sample", tests, NULL, NULL);
}
