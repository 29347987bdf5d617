/* SPDX-License-Identifier: MIT */
/* vstats_parse(): a vassal's stats report decoded once, as the emperor keeps it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "macro.h"
#include "vstats.h"

static int parse(const char *text, VassalStats *vs) {
        return vstats_parse(text, strlen(text), vs);
}

static void test_a_report(void **state) {
        VassalStats vs;
        (void) state;
        assert_int_equal(parse("{\"requests\":37,\"exceptions\":2,\"errors\":5,\"listen_queue\":3,"
                               "\"p99_rt\":2500,\"cpu\":12.5,\"cpu_time\":1500000,"
                               "\"rt_hist\":{\"le_us\":[250,1000],\"counts\":[10,30],"
                               "\"sum_us\":9000,\"count\":37},"
                               "\"workers\":[{\"pid\":11,\"status\":\"busy\",\"rss\":1000,"
                               "\"avg_rt\":2000,\"respawn_count\":1,\"harakiri_count\":1},"
                               "{\"pid\":12,\"status\":\"idle\",\"rss\":500,\"avg_rt\":0,"
                               "\"respawn_count\":2}]}", &vs), 0);
        assert_int_equal(vs.requests, 37);
        assert_int_equal(vs.exceptions, 2);
        assert_int_equal(vs.errors, 5);
        assert_int_equal(vs.listen_queue, 3);
        assert_true(vs.p99_rt_ms == 2.5);
        assert_true(vs.cpu == 12.5);
        assert_true(vs.cpu_time_s == 1.5);
        assert_int_equal(vs.total, 2);
        assert_int_equal(vs.busy, 1);
        assert_int_equal(vs.rss, 1500);
        assert_int_equal(vs.respawns, 3);
        assert_int_equal(vs.harakiris, 1);
        /* The idle worker with no average yet does not pull the mean down. */
        assert_true(vs.avg_rt_ms == 2.0);
        assert_int_equal(vs.worker_pids[0], 11);
        assert_int_equal(vs.worker_pids[1], 12);
        assert_int_equal(vs.n_hist, 2);
        assert_true(vs.hist_le_us[1] == 1000 && vs.hist_counts[1] == 30);
        assert_true(vs.hist_count == 37 && vs.hist_sum_us == 9000);
        vstats_done(&vs);
}

/* The workers' averages weigh as many requests as each served since its spawn: an idle
 * respawned worker with its predecessor's average, and one that served nothing, count for
 * nothing. */
static void test_avg_rt_weighted_by_requests(void **state) {
        VassalStats vs;
        (void) state;
        assert_int_equal(parse("{\"workers\":["
                               "{\"pid\":1,\"status\":\"busy\",\"avg_rt\":1000,\"delta_requests\":300},"
                               "{\"pid\":2,\"status\":\"idle\",\"avg_rt\":4000,\"delta_requests\":100},"
                               "{\"pid\":3,\"status\":\"idle\",\"avg_rt\":900000,\"delta_requests\":0},"
                               "{\"pid\":4,\"status\":\"idle\",\"avg_rt\":0,\"delta_requests\":0}]}",
                               &vs), 0);
        /* (1000 * 300 + 4000 * 100) / 400 = 1750 µs */
        assert_true(vs.avg_rt_ms == 1.75);
        vstats_done(&vs);
        assert_int_equal(parse("{\"workers\":[{\"pid\":3,\"avg_rt\":900000,"
                               "\"delta_requests\":0}]}", &vs), 0);
        assert_true(vs.avg_rt_ms == 0);
        vstats_done(&vs);
}

static void test_what_is_missing_stays_unknown(void **state) {
        VassalStats vs;
        (void) state;
        /* An older vassal: exceptions only, no p99, cpu or histogram. */
        assert_int_equal(parse("{\"requests\":4,\"exceptions\":1,\"workers\":[]}", &vs), 0);
        assert_int_equal(vs.errors, 1);
        assert_true(isnan(vs.p99_rt_ms) && isnan(vs.cpu) && isnan(vs.cpu_time_s));
        assert_int_equal(vs.n_hist, 0);
        assert_int_equal(vs.total, 0);
        vstats_done(&vs);
        /* p99 null (an idle interval), negative numbers refused. */
        assert_int_equal(parse("{\"p99_rt\":null,\"requests\":-5,\"workers\":[]}", &vs), 0);
        assert_true(isnan(vs.p99_rt_ms));
        assert_int_equal(vs.requests, 0);
        vstats_done(&vs);
}

static void test_malformed(void **state) {
        static const char *const bad[] = { "", "{", "[]", "{\"workers\":{}}", "{}", "null",
                                           "{\"workers\":[]", "\"x\"" };
        VassalStats vs;
        (void) state;
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                if (parse(bad[k], &vs) != -EINVAL)
                        fail_msg("'%s' accepted", bad[k]);
                vstats_done(&vs);
        }
        /* A histogram whose arrays disagree is dropped, the rest kept. */
        assert_int_equal(parse("{\"requests\":1,\"workers\":[],\"rt_hist\":{\"le_us\":[1,2],"
                               "\"counts\":[1]}}", &vs), 0);
        assert_int_equal(vs.n_hist, 0);
        assert_int_equal(vs.requests, 1);
        vstats_done(&vs);
}

/* "log": where the vassal writes its log; "" is its stderr; absent (older) is NULL; a
 * relative path is not trusted (it would be read from the reader's directory). */
static void test_the_log_path(void **state) {
        VassalStats vs;
        (void) state;
        assert_int_equal(parse("{\"log\":\"/var/log/app.log\",\"workers\":[]}", &vs), 0);
        assert_string_equal(vs.log_path, "/var/log/app.log");
        vstats_done(&vs);
        assert_null(vs.log_path);
        assert_int_equal(parse("{\"log\":\"\",\"workers\":[]}", &vs), 0);
        assert_string_equal(vs.log_path, "");
        vstats_done(&vs);
        assert_int_equal(parse("{\"workers\":[]}", &vs), 0);
        assert_null(vs.log_path);
        vstats_done(&vs);
        assert_int_equal(parse("{\"log\":\"app.log\",\"workers\":[]}", &vs), 0);
        assert_null(vs.log_path);
        vstats_done(&vs);
        assert_int_equal(parse("{\"log\":7,\"workers\":[]}", &vs), 0);
        assert_null(vs.log_path);
        vstats_done(&vs);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_report),
                cmocka_unit_test(test_avg_rt_weighted_by_requests),
                cmocka_unit_test(test_what_is_missing_stays_unknown),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_the_log_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
