/* SPDX-License-Identifier: MIT */
/* The store's readers (store/query.c) against a store written by the real writer with a
 * faked clock: the right resolution per bucket, the aggregates, the edges. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "store.h"
#include "macro.h"

/* 2026-01-01T00:00:00Z, an hour boundary. */
#define T0 1767225600LL

typedef struct Fixture {
        char dir[64];
        char path[128];
        uint64_t now_ms;
        sqlite3 *db;
} Fixture;

static uint64_t fake_now(void *userdata) {
        return ((Fixture *) userdata)->now_ms;
}

/* Two hours and two minutes of 1 s ticks for "app" (10 requests a second, an error every
 * 100 s, p99 900 once at T0+1800) and "idle" (no requests), plus a few events. */
static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        Store *s;

        snprintf(f->dir, sizeof(f->dir), "/tmp/test-query.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/stats.db", f->dir);
        f->now_ms = (uint64_t) T0 * 1000;
        StoreOptions o = { .state_dir = f->dir, .now = fake_now, .userdata = f };
        assert_int_equal(store_new(&o, &s), 0);
        assert_int_equal(store_event(s, "app", "/etc/apps.d/app.ini", "spawn", "pid 1"), 0);
        for (int k = 0; k <= 2 * 3600 + 120; k++) {
                StoreSample x[2] = {
                        { .name = "app", .pid = 1, .requests = (uint64_t) k * 10,
                          .errors = (uint64_t) k / 100, .avg_rt_ms = 2, .p99_rt_ms = k == 1800 ? 900 : 20,
                          .rss = 50 << 20, .cpu = 25, .busy = 1, .total = 2 },
                        { .name = "idle", .pid = 2, .avg_rt_ms = NAN, .p99_rt_ms = NAN, .rss = 10 << 20,
                          .cpu = NAN, .total = 1 },
                };
                if (k == 3600)
                        assert_int_equal(store_event(s, "app", NULL, "exit", "pid 1 killed"), 0);
                assert_int_equal(store_tick(s, x, 2), 0);
                f->now_ms += 1000;
        }
        assert_int_equal(store_event(s, NULL, NULL, "emperor", "stopped"), 0);
        store_free(s);
        char err[256];
        assert_int_equal(query_open(f->path, &f->db, err, sizeof(err)), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];
        sqlite3_close(f->db);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

#define MAX_ROWS 200

typedef struct Rows {
        QueryRow r[MAX_ROWS];
        size_t n;
} Rows;

static int collect(const QueryRow *r, void *userdata) {
        Rows *rows = userdata;
        assert_true(rows->n < MAX_ROWS);
        rows->r[rows->n++] = *r;
        return 0;
}

static void test_hours_from_the_hour_rollups(void **state) {
        Fixture *f = *state;
        Rows rows = {};
        char err[256];

        assert_int_equal(query_samples(f->db, "app", T0, T0 + 7200, 3600, collect, &rows, err,
                                       sizeof(err)), 0);
        assert_int_equal(rows.n, 2);
        assert_int_equal(rows.r[0].ts, T0);
        assert_int_equal(rows.r[0].resolution, 3600);
        assert_int_equal(rows.r[0].every, 3600);
        assert_float_equal(rows.r[0].rps, 10, 0.01);
        assert_float_equal(rows.r[0].p99_rt_ms, 900, 1e-9);
        assert_float_equal(rows.r[1].p99_rt_ms, 20, 1e-9);
        assert_float_equal(rows.r[0].requests, 35990, 1e-9);
        assert_float_equal(rows.r[0].avg_rt_ms, 2, 1e-9);
        assert_float_equal(rows.r[0].rss, 52428800.0, 1e-9);
        assert_float_equal(rows.r[0].cpu, 25, 1e-9);
        assert_true(isnan(rows.r[0].errors_delta)); /* nothing before it to subtract */
        assert_float_equal(rows.r[1].errors_delta, 71 - 35, 1e-9);
}

static void test_minutes_then_raw_seconds_at_the_end(void **state) {
        Fixture *f = *state;
        Rows rows = {};
        char err[256];
        int64_t end = T0 + 2 * 3600 + 121;

        /* The last 5 minutes: rolled-up minutes, then the minute the rollup has not reached,
         * from raw rows. */
        assert_int_equal(query_samples(f->db, "app", end - 300, end, 60, collect, &rows, err,
                                       sizeof(err)), 0);
        assert_true(rows.n >= 5 && rows.n <= 6);
        assert_int_equal(rows.r[0].resolution, 60);
        assert_int_equal(rows.r[rows.n - 1].resolution, 1);
        for (size_t k = 0; k < rows.n; k++) {
                assert_int_equal(rows.r[k].ts % 60, 0);
                assert_float_equal(rows.r[k].rps, 10, 0.01);
                if (k > 0)
                        assert_int_equal(rows.r[k].ts, rows.r[k - 1].ts + 60);
        }
}

static void test_seconds_from_raw(void **state) {
        Fixture *f = *state;
        Rows rows = {};
        char err[256];

        assert_int_equal(query_samples(f->db, "app", T0 + 100, T0 + 110, 1, collect, &rows, err,
                                       sizeof(err)), 0);
        assert_int_equal(rows.n, 10);
        for (size_t k = 0; k < rows.n; k++) {
                assert_int_equal(rows.r[k].ts, T0 + 100 + (int64_t) k);
                assert_int_equal(rows.r[k].resolution, 1);
                assert_float_equal(rows.r[k].requests, (double) (100 + k) * 10, 1e-9);
        }
}

static void test_a_day_mixes_every_resolution(void **state) {
        Fixture *f = *state;
        Rows rows = {};
        char err[256];

        assert_int_equal(query_samples(f->db, "app", T0 - 86400, T0 + 86400, 86400, collect, &rows,
                                       err, sizeof(err)), 0);
        assert_int_equal(rows.n, 1);
        assert_int_equal(rows.r[0].ts, T0);
        assert_int_equal(rows.r[0].resolution, 3600);
        assert_float_equal(rows.r[0].rps, 10, 0.05);
        assert_float_equal(rows.r[0].requests, (2 * 3600 + 120) * 10, 1e-9); /* the last tick's */
        assert_float_equal(rows.r[0].p99_rt_ms, 900, 1e-9);
}

static void test_idle_vassal_unknowns_stay_unknown(void **state) {
        Fixture *f = *state;
        Rows rows = {};
        char err[256];

        assert_int_equal(query_samples(f->db, "idle", T0 + 60, T0 + 120, 60, collect, &rows, err,
                                       sizeof(err)), 0);
        assert_int_equal(rows.n, 1);
        assert_float_equal(rows.r[0].rps, 0, 1e-9);
        assert_true(isnan(rows.r[0].p99_rt_ms));
        assert_true(isnan(rows.r[0].cpu));
        assert_float_equal(rows.r[0].rss, 10485760.0, 1e-9);
}

static void test_bad_queries(void **state) {
        Fixture *f = *state;
        Rows rows = {};
        char err[256] = "";

        assert_int_equal(query_samples(f->db, "nope", T0, T0 + 60, 1, collect, &rows, err,
                                       sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "nope"));
        assert_int_equal(query_samples(f->db, "app", T0 - 30 * 86400LL, T0, 1, collect, &rows, err,
                                       sizeof(err)), -E2BIG);
        assert_int_equal(query_samples(f->db, "app", T0, T0, 1, collect, &rows, err, sizeof(err)),
                         -EINVAL);
        assert_int_equal(rows.n, 0);
        assert_false(query_vassal_exists(f->db, "nope"));
        assert_true(query_vassal_exists(f->db, "idle"));
}

static int stop_after_two(const QueryRow *r, void *userdata) {
        (void) r;
        return ++*(int *) userdata == 2 ? 42 : 0;
}

static void test_callback_stops_the_walk(void **state) {
        Fixture *f = *state;
        int n = 0;
        char err[256];

        assert_int_equal(query_samples(f->db, "app", T0, T0 + 100, 1, stop_after_two, &n, err,
                                       sizeof(err)), 42);
        assert_int_equal(n, 2);
}

typedef struct Events {
        char kinds[256];
        size_t n, emperor;
} Events;

static int collect_event(const QueryEvent *e, void *userdata) {
        Events *ev = userdata;
        strncat(ev->kinds, e->kind, sizeof(ev->kinds) - strlen(ev->kinds) - 2);
        strcat(ev->kinds, " ");
        ev->n++;
        ev->emperor += e->vassal == NULL;
        return 0;
}

static void test_events(void **state) {
        Fixture *f = *state;
        Events all = {}, app = {}, late = {};
        char err[256];

        assert_int_equal(query_events(f->db, NULL, T0 - 10, T0 + 86400, collect_event, &all, err,
                                      sizeof(err)), 0);
        assert_int_equal(query_events(f->db, "app", T0 - 10, T0 + 86400, collect_event, &app, err,
                                      sizeof(err)), 0);
        assert_int_equal(query_events(f->db, "app", T0 + 1, T0 + 86400, collect_event, &late, err,
                                      sizeof(err)), 0);
        assert_non_null(strstr(all.kinds, "spawn"));
        assert_non_null(strstr(all.kinds, "emperor"));
        assert_true(all.emperor >= 1);
        assert_string_equal(app.kinds, "spawn exit ");
        assert_int_equal(app.emperor, 0);
        assert_string_equal(late.kinds, "exit ");
        assert_int_equal(query_events(f->db, "nope", T0, T0 + 1, collect_event, &late, err,
                                      sizeof(err)), -ENOENT);
}

typedef struct Summaries {
        QuerySummary s[4];
        char names[4][16];
        size_t n;
} Summaries;

static int collect_summary(const QuerySummary *s, void *userdata) {
        Summaries *all = userdata;
        assert_true(all->n < 4);
        all->s[all->n] = *s;
        snprintf(all->names[all->n], 16, "%s", s->vassal);
        all->s[all->n].vassal = all->names[all->n];
        all->n++;
        return 0;
}

static void test_summaries(void **state) {
        Fixture *f = *state;
        Summaries all = {};
        char err[256];

        assert_int_equal(query_summaries(f->db, T0, T0 + 7300, collect_summary, &all, err,
                                         sizeof(err)), 0);
        assert_int_equal(all.n, 2);
        assert_string_equal(all.s[0].vassal, "app");
        assert_string_equal(all.s[1].vassal, "idle");
        assert_float_equal(all.s[0].rps_avg, 10, 0.05);
        assert_float_equal(all.s[0].p99_rt_ms, 900, 1e-9);
        assert_float_equal(all.s[0].exits, 1, 1e-9);
        assert_float_equal(all.s[1].rps_avg, 0, 1e-9);
        assert_float_equal(all.s[1].exits, 0, 1e-9);
        assert_true(isnan(all.s[1].p99_rt_ms));
}

static void test_parse_since(void **state) {
        int64_t t;
        (void) state;

        assert_int_equal(query_parse_since("1h", 100000, &t), 0);
        assert_int_equal(t, 100000 - 3600);
        assert_int_equal(query_parse_since("30d", 10000000, &t), 0);
        assert_int_equal(t, 10000000 - 30 * 86400);
        assert_int_equal(query_parse_since("90", 1000, &t), 0);
        assert_int_equal(t, 910);
        assert_int_equal(query_parse_since("2026-01-01T00:00Z", 0, &t), 0);
        assert_int_equal(t, T0);
        assert_int_equal(query_parse_since("2026-01-01T00:00:30Z", 0, &t), 0);
        assert_int_equal(t, T0 + 30);
        assert_int_equal(query_parse_since("2026-01-01Z", 0, &t), 0);
        assert_int_equal(t, T0);
        assert_int_equal(query_parse_since("2026-01-01 10:00", 0, &t), 0); /* local time */
        const char *bad[] = { "", "h", "0", "-5m", "+5m", "5x", "1h ", "2026-13-01", "2026-01-01T",
                              "2026-01-01T25:00", "2026-01-01T10:00:", "2026-01-01T10:00Zz",
                              "99999999999999999999d", "1000000d" };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                if (query_parse_since(bad[k], 0, &t) != -EINVAL)
                        fail_msg("'%s' accepted", bad[k]);
}

static void test_default_every(void **state) {
        (void) state;

        assert_int_equal(query_default_every(60), 1);
        assert_int_equal(query_default_every(3600), 30);
        assert_int_equal(query_default_every(86400), 900);
        assert_int_equal(query_default_every(30 * 86400), 6 * 3600);
        assert_int_equal(query_default_every(365 * 86400), 4 * 86400);
}

static void test_open_refuses_what_is_not_a_store(void **state) {
        sqlite3 *db = (sqlite3 *) 1;
        char err[256] = "";
        FILE *fp;
        (void) state;

        assert_int_equal(query_open("/nonexistent/stats.db", &db, err, sizeof(err)), -ENOENT);
        assert_null(db);
        assert_non_null(strstr(err, "/nonexistent/stats.db"));
        fp = fopen("/tmp/test-query-garbage.db", "w");
        assert_non_null(fp);
        fputs("this is not a database, not even close, but long enough to have a header\n", fp);
        fclose(fp);
        assert_int_equal(query_open("/tmp/test-query-garbage.db", &db, err, sizeof(err)), -EIO);
        assert_null(db);
        unlink("/tmp/test-query-garbage.db");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_hours_from_the_hour_rollups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_minutes_then_raw_seconds_at_the_end, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_seconds_from_raw, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_day_mixes_every_resolution, setup, teardown),
                cmocka_unit_test_setup_teardown(test_idle_vassal_unknowns_stay_unknown, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_bad_queries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_callback_stops_the_walk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_summaries, setup, teardown),
                cmocka_unit_test(test_parse_since),
                cmocka_unit_test(test_default_every),
                cmocka_unit_test(test_open_refuses_what_is_not_a_store),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
