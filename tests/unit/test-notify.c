/* SPDX-License-Identifier: MIT */
/* notify_parse(): what a vassal says on the notify socket, read into calls. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../emperor/notify.h"

typedef struct Seen {
        int ready, stats, measures;
        VassalMeasures m;
        char phases[64];
        uint64_t watchdog[4];
        int n_watchdog;
        char status[64];
        char events[128];
} Seen;

static void on_ready(void *u) {
        ((Seen *) u)->ready++;
}

static void on_status(void *u, const char *s, size_t n) {
        snprintf(((Seen *) u)->status, sizeof(((Seen *) u)->status), "%.*s", (int) n, s);
}

static void on_event(void *u, const char *kind, const char *detail, size_t n) {
        Seen *x = u;
        size_t l = strlen(x->events);
        snprintf(x->events + l, sizeof(x->events) - l, "%s:%.*s;", kind, (int) n, detail);
}

static void on_stats(void *u, VassalStats *vs) {
        ((Seen *) u)->stats++;
        vstats_done(vs);
}

static void on_measures(void *u, const VassalMeasures *m) {
        ((Seen *) u)->measures++;
        ((Seen *) u)->m = *m;
}

static void on_phase(void *u, const char *phase) {
        Seen *x = u;
        size_t l = strlen(x->phases);
        snprintf(x->phases + l, sizeof(x->phases) - l, "%s;", phase);
}

static void on_watchdog(void *u, uint64_t usec) {
        Seen *x = u;
        if (x->n_watchdog < 4)
                x->watchdog[x->n_watchdog++] = usec;
}

static const NotifyHandler handler = {
        .ready = on_ready,
        .status = on_status,
        .event = on_event,
        .stats = on_stats,
        .measures = on_measures,
        .phase = on_phase,
        .watchdog = on_watchdog,
};

static void parse(const char *msg, Seen *s) {
        memset(s, 0, sizeof(*s));
        notify_parse(msg, strlen(msg), &handler, s);
}

static void test_lifecycle(void **state) {
        Seen s;
        (void) state;
        parse("RELOADING=1\nSTATUS=reloading\nSTOPPING=1\nREADY=1", &s);
        assert_string_equal(s.phases, "reloading;stopping;");
        assert_string_equal(s.status, "reloading");
        assert_int_equal(s.ready, 1);
        /* Near misses are nothing. */
        parse("READY=10\nRELOADING=0\nSTOPPING\nREADY", &s);
        assert_int_equal(s.ready, 0);
        assert_string_equal(s.phases, "");
}

static void test_watchdog(void **state) {
        Seen s;
        (void) state;
        parse("WATCHDOG_USEC=5000000\nWATCHDOG=1", &s);
        assert_int_equal(s.n_watchdog, 2);
        assert_int_equal(s.watchdog[0], 5000000);
        assert_int_equal(s.watchdog[1], 0);
        /* A period under a second or over a day, or not a number, is no promise. */
        parse("WATCHDOG_USEC=999999\nWATCHDOG_USEC=86400000001\nWATCHDOG_USEC=5s\n"
              "WATCHDOG_USEC=\nWATCHDOG_USEC=99999999999999999999999", &s);
        assert_int_equal(s.n_watchdog, 0);
}

static void test_events_and_stats(void **state) {
        Seen s;
        (void) state;
        parse("X_EVENT=harakiri worker 1 GET /slow\nX_EVENT=forged anything\n"
              "X_STATS={\"workers\":[]}\nX_STATS=not json", &s);
        assert_string_equal(s.events, "harakiri:worker 1 GET /slow;");
        assert_int_equal(s.stats, 1);
}

/* X_STATS_SAME=: the measures alone, with null and absent ones unknown. */
static void test_measures(void **state) {
        Seen s;
        (void) state;
        parse("STATUS=idle\nX_STATS_SAME={\"p99_rt\":1500,\"cpu\":0.25,\"cpu_time\":2000000}", &s);
        assert_int_equal(s.measures, 1);
        assert_int_equal(s.stats, 0);
        assert_string_equal(s.status, "idle");
        assert_float_equal(s.m.p99_rt_ms, 1.5, 1e-9);
        assert_float_equal(s.m.cpu, 0.25, 1e-9);
        assert_float_equal(s.m.cpu_time_s, 2.0, 1e-9);
        parse("X_STATS_SAME={\"p99_rt\":null}", &s);
        assert_int_equal(s.measures, 1);
        assert_true(isnan(s.m.p99_rt_ms) && isnan(s.m.cpu) && isnan(s.m.cpu_time_s));
        /* Not an object: nothing. */
        parse("X_STATS_SAME=[1]\nX_STATS_SAME=\nX_STATS_SAME=nope", &s);
        assert_int_equal(s.measures, 0);
}

/* The measures replace the held stats' own and nothing else. */
static void test_set_measures(void **state) {
        VassalStats vs;
        (void) state;
        assert_int_equal(vstats_parse("{\"workers\":[{\"pid\":7}],\"requests\":9,\"cpu\":3,"
                                      "\"p99_rt\":2000}", 58, &vs), 0);
        assert_float_equal(vs.cpu, 3, 1e-9);
        VassalMeasures m = { .p99_rt_ms = NAN, .cpu = 0.5, .cpu_time_s = 7 };
        vstats_set_measures(&vs, &m);
        assert_true(isnan(vs.p99_rt_ms));
        assert_float_equal(vs.cpu, 0.5, 1e-9);
        assert_float_equal(vs.cpu_time_s, 7, 1e-9);
        assert_int_equal(vs.requests, 9);
        assert_int_equal(vs.total, 1);
        assert_int_equal(vs.worker_pids[0], 7);
        vstats_done(&vs);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lifecycle),
                cmocka_unit_test(test_watchdog),
                cmocka_unit_test(test_events_and_stats),
                cmocka_unit_test(test_measures),
                cmocka_unit_test(test_set_measures),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
