/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cheaper.h"

#define SEC 1000000ULL
#define T0 (1000 * SEC) /* monotonic times far from 0, as a real clock's */

/* processes = 4, cheaper = 1, cheaper-step = 1, cheaper-overload = 3 */
static const CheaperParams params = { .min = 1, .max = 4, .step = 1, .interval = 3 * SEC };

static void workers_init(CheaperWorker *w, size_t n, size_t wanted, uint64_t now) {
        for (size_t i = 0; i < n; i++)
                cheaper_reset(&w[i], i < wanted, 0, now);
}

static void test_every_worker_busy_spawns_a_step(void **state) {
        CheaperWorker w[4];
        (void) state;
        workers_init(w, 4, 1, T0);
        cheaper_observe(&w[0], true, 0, T0 + SEC);
        CheaperAction a = cheaper_decide(&params, w, 4, T0 + SEC);
        assert_int_equal(a.verdict, CHEAPER_SPAWN);
        assert_int_equal(a.count, 1);

        /* A bigger step, capped by what is left to spawn. */
        CheaperParams p = params;
        p.step = 5;
        a = cheaper_decide(&p, w, 4, T0 + SEC);
        assert_int_equal(a.verdict, CHEAPER_SPAWN);
        assert_int_equal(a.count, 3);
        w[1].wanted = w[2].wanted = true;
        cheaper_observe(&w[1], true, 0, T0 + SEC);
        cheaper_observe(&w[2], true, 0, T0 + SEC);
        a = cheaper_decide(&p, w, 4, T0 + SEC);
        assert_int_equal(a.verdict, CHEAPER_SPAWN);
        assert_int_equal(a.count, 1);
}

static void test_all_processes_busy_spawns_nothing(void **state) {
        CheaperWorker w[4];
        (void) state;
        workers_init(w, 4, 4, T0);
        for (size_t i = 0; i < 4; i++)
                cheaper_observe(&w[i], true, 0, T0 + SEC);
        assert_int_equal(cheaper_decide(&params, w, 4, T0 + SEC).verdict, CHEAPER_NOTHING);
}

static void test_one_spare_idle_worker_is_kept(void **state) {
        CheaperWorker w[4];
        (void) state;
        workers_init(w, 4, 2, T0);
        cheaper_observe(&w[0], true, 0, T0 + 10 * SEC);
        cheaper_observe(&w[1], false, 0, T0 + 10 * SEC);
        /* One idle worker, idle for long: neither spawn nor retire (uWSGI's spare). */
        assert_int_equal(cheaper_decide(&params, w, 4, T0 + 10 * SEC).verdict, CHEAPER_NOTHING);
}

static void test_retires_the_longest_idle_after_an_interval(void **state) {
        CheaperWorker w[4];
        (void) state;
        workers_init(w, 4, 3, T0);
        /* Worker 1 served a request in between: idle since the sample at T0 + 1 s. */
        cheaper_observe(&w[0], false, 0, T0 + SEC);
        cheaper_observe(&w[1], false, 7, T0 + SEC);
        cheaper_observe(&w[2], false, 0, T0 + SEC);
        assert_int_equal(cheaper_decide(&params, w, 4, T0 + 2 * SEC).verdict, CHEAPER_NOTHING);

        CheaperAction a = cheaper_decide(&params, w, 4, T0 + 3 * SEC);
        assert_int_equal(a.verdict, CHEAPER_RETIRE);
        /* Workers 0 and 2 idle alike: the highest goes first, as in uWSGI. */
        assert_int_equal(a.index, 2);

        w[2].wanted = false;
        a = cheaper_decide(&params, w, 4, T0 + 3 * SEC);
        assert_int_equal(a.verdict, CHEAPER_RETIRE);
        assert_int_equal(a.index, 0);
}

static void test_never_retires_below_cheaper(void **state) {
        CheaperWorker w[4];
        CheaperParams p = params;
        (void) state;
        p.min = 2;
        workers_init(w, 4, 2, T0);
        assert_int_equal(cheaper_decide(&p, w, 4, T0 + 60 * SEC).verdict, CHEAPER_NOTHING);
}

static void test_requests_between_samples_are_activity(void **state) {
        CheaperWorker w;
        (void) state;
        cheaper_reset(&w, true, 5, T0);
        cheaper_observe(&w, false, 9, T0 + 3 * SEC);
        assert_int_equal(w.idle_since, T0 + 3 * SEC);
        cheaper_observe(&w, false, 9, T0 + 6 * SEC);
        assert_int_equal(w.idle_since, T0 + 3 * SEC);
        cheaper_observe(&w, true, 9, T0 + 9 * SEC);
        assert_int_equal(w.idle_since, T0 + 9 * SEC);
}

static void test_idle_stops_every_worker(void **state) {
        CheaperWorker w[4];
        CheaperParams p = { .min = 4, .max = 4, .step = 1, .interval = SEC, .idle = 2 * SEC };
        (void) state;
        workers_init(w, 4, 4, T0);
        assert_int_equal(cheaper_decide(&p, w, 4, T0 + SEC).verdict, CHEAPER_NOTHING);
        assert_int_equal(cheaper_decide(&p, w, 4, T0 + 2 * SEC).verdict, CHEAPER_SLEEP);

        /* One busy worker (a request longer than `idle`) keeps them all. */
        cheaper_observe(&w[3], true, 0, T0 + 5 * SEC);
        assert_int_equal(cheaper_decide(&p, w, 4, T0 + 9 * SEC).verdict, CHEAPER_NOTHING);
        cheaper_observe(&w[3], false, 1, T0 + 10 * SEC);
        assert_int_equal(cheaper_decide(&p, w, 4, T0 + 11 * SEC).verdict, CHEAPER_NOTHING);
        assert_int_equal(cheaper_decide(&p, w, 4, T0 + 12 * SEC).verdict, CHEAPER_SLEEP);

        /* Asleep already: nothing wanted, nothing to do. */
        workers_init(w, 4, 0, T0);
        assert_int_equal(cheaper_decide(&p, w, 4, T0 + 60 * SEC).verdict, CHEAPER_NOTHING);
}

/* A load of `load` slow requests, the master applying each verdict at once. */
static size_t simulate(CheaperWorker *w, size_t load, uint64_t *now, unsigned checks) {
        for (unsigned c = 0; c < checks; c++) {
                *now += params.interval;
                size_t left = load;
                for (size_t i = 0; i < 4; i++)
                        if (w[i].wanted)
                                cheaper_observe(&w[i], left > 0 && left--, w[i].requests, *now);
                CheaperAction a = cheaper_decide(&params, w, 4, *now);
                if (a.verdict == CHEAPER_SPAWN)
                        for (size_t i = 0, k = a.count; i < 4 && k > 0; i++)
                                if (!w[i].wanted) {
                                        cheaper_reset(&w[i], true, 0, *now);
                                        k--;
                                }
                if (a.verdict == CHEAPER_RETIRE)
                        cheaper_reset(&w[a.index], false, 0, *now);
        }
        size_t wanted = 0;
        for (size_t i = 0; i < 4; i++)
                wanted += w[i].wanted;
        return wanted;
}

static void test_ramp_up_to_processes_and_back_to_cheaper(void **state) {
        CheaperWorker w[4];
        uint64_t now = T0;
        (void) state;
        workers_init(w, 4, 1, now);
        assert_int_equal(simulate(w, 2, &now, 1), 2);
        /* A load of 2 on 2 workers: both busy, a third comes. */
        assert_int_equal(simulate(w, 2, &now, 1), 3);
        /* With 8 in flight (a queue), up to processes and no further. */
        assert_int_equal(simulate(w, 8, &now, 10), 4);
        /* The load is gone: one retired per check, down to cheaper. */
        /* Seen busy at the last check, idle at this one: idle up to an interval. */
        assert_int_equal(simulate(w, 0, &now, 1), 3);
        assert_int_equal(simulate(w, 0, &now, 1), 2);
        assert_int_equal(simulate(w, 0, &now, 1), 1);
        assert_int_equal(simulate(w, 0, &now, 10), 1);
}

static void test_verdict_names(void **state) {
        (void) state;
        assert_string_equal(cheaper_verdict_to_string(CHEAPER_RETIRE), "retire");
        assert_null(cheaper_verdict_to_string(_CHEAPER_VERDICT_MAX));
        assert_null(cheaper_verdict_to_string(_CHEAPER_VERDICT_INVALID));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_worker_busy_spawns_a_step),
                cmocka_unit_test(test_all_processes_busy_spawns_nothing),
                cmocka_unit_test(test_one_spare_idle_worker_is_kept),
                cmocka_unit_test(test_retires_the_longest_idle_after_an_interval),
                cmocka_unit_test(test_never_retires_below_cheaper),
                cmocka_unit_test(test_requests_between_samples_are_activity),
                cmocka_unit_test(test_idle_stops_every_worker),
                cmocka_unit_test(test_ramp_up_to_processes_and_back_to_cheaper),
                cmocka_unit_test(test_verdict_names),
        };
        return cmocka_run_group_tests_name("cheaper", tests, NULL, NULL);
}
