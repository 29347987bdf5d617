/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scoreboard.h"

static const ScoreboardInfo info = { .version = "9.9.9", .pid = 4242, .listen_queue = 7 };

static int setup(void **state) {
        Scoreboard *sb = NULL;
        assert_int_equal(scoreboard_new(3, 2, &sb), 0);
        *state = sb;
        return 0;
}

static int teardown(void **state) {
        scoreboard_free(*state);
        return 0;
}

static void test_slots_are_one_based_and_zeroed(void **state) {
        Scoreboard *sb = *state;

        assert_int_equal(scoreboard_size(sb), 3);
        assert_null(scoreboard_slot(sb, 0));
        assert_null(scoreboard_slot(sb, 4));
        for (size_t id = 1; id <= 3; id++) {
                ScoreboardSlot *s = scoreboard_slot(sb, id);
                assert_non_null(s);
                assert_int_equal(atomic_load(&s->pid), 0);
                assert_int_equal(atomic_load(&s->requests), 0);
        }
        assert_ptr_not_equal(scoreboard_slot(sb, 1), scoreboard_slot(sb, 2));
        assert_null(scoreboard_error(sb));
}

static void test_request_counters(void **state) {
        Scoreboard *sb = *state;
        ScoreboardSlot *s = scoreboard_slot(sb, 2);
        ScoreboardTotals t;

        scoreboard_slot_spawned(s, 100, 0);
        scoreboard_request_begin(s, 1000);
        scoreboard_request_begin(s, 1001);
        assert_int_equal(atomic_load(&s->busy), 2);
        assert_int_equal(atomic_load(&s->request_start), 1001);
        scoreboard_request_end(s, 800, 12, false, 200);
        scoreboard_request_end(s, 800, 30, true, 200);
        assert_int_equal(atomic_load(&s->busy), 0);
        assert_int_equal(atomic_load(&s->requests), 2);
        assert_int_equal(atomic_load(&s->exceptions), 1);
        assert_int_equal(atomic_load(&s->tx), 42);
        assert_int_equal(atomic_load(&s->running_time), 1600);
        /* The first sample is the average; equal samples keep it. */
        assert_int_equal(atomic_load(&s->avg_rt), 800);

        /* The average follows new samples, an eighth at a time. */
        scoreboard_request_begin(s, 2000);
        scoreboard_request_end(s, 1600, 0, false, 200);
        assert_int_equal(atomic_load(&s->avg_rt), 900);

        scoreboard_totals(sb, &t);
        assert_int_equal(t.workers, 1);
        assert_int_equal(t.busy, 0);
        assert_int_equal(t.requests, 3);
        assert_int_equal(t.exceptions, 1);
        assert_int_equal(t.tx, 42);
}

static void test_respawn_keeps_counters_and_clears_busy(void **state) {
        Scoreboard *sb = *state;
        ScoreboardSlot *s = scoreboard_slot(sb, 1);

        scoreboard_slot_spawned(s, 100, 0);
        scoreboard_request_begin(s, 1);
        scoreboard_request_end(s, 10, 5, false, 200);
        scoreboard_request_begin(s, 2); /* killed in the middle of this one */
        scoreboard_slot_exited(s);
        assert_int_equal(atomic_load(&s->pid), 0);
        assert_int_equal(atomic_load(&s->busy), 0);
        scoreboard_slot_spawned(s, 101, 1);
        assert_int_equal(atomic_load(&s->pid), 101);
        assert_int_equal(atomic_load(&s->respawn_count), 1);
        assert_true(atomic_load(&s->last_spawn) > 0);
        /* Cumulative across respawns: a rate computed from them never goes negative. */
        assert_int_equal(atomic_load(&s->requests), 1);
        assert_int_equal(atomic_load(&s->tx), 5);
}

/* The region is shared: what a forked child writes, the parent reads. */
static void test_shared_across_fork(void **state) {
        Scoreboard *sb = *state;
        ScoreboardSlot *s = scoreboard_slot(sb, 3);

        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                for (int i = 0; i < 1000; i++) {
                        scoreboard_request_begin(s, i);
                        scoreboard_request_end(s, 1, 2, i % 10 == 0, 200);
                }
                scoreboard_set_error(sb, "Failed to import the app 'x': ImportError: nope");
                _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(atomic_load(&s->requests), 1000);
        assert_int_equal(atomic_load(&s->exceptions), 100);
        assert_int_equal(atomic_load(&s->tx), 2000);
        assert_string_equal(scoreboard_error(sb), "Failed to import the app 'x': ImportError: nope");
        /* The first error stays. */
        scoreboard_set_error(sb, "second");
        assert_string_equal(scoreboard_error(sb), "Failed to import the app 'x': ImportError: nope");
}

static double number(const cJSON *o, const char *name) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, name);
        assert_non_null(n);
        assert_true(cJSON_IsNumber(n));
        return n->valuedouble;
}

static const char *string(const cJSON *o, const char *name) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, name);
        assert_non_null(n);
        assert_true(cJSON_IsString(n));
        return n->valuestring;
}

static void test_json_round_trip(void **state) {
        Scoreboard *sb = *state;
        ScoreboardSlot *s1 = scoreboard_slot(sb, 1), *s2 = scoreboard_slot(sb, 2);

        scoreboard_slot_spawned(s1, 101, 0);
        scoreboard_slot_spawned(s2, 102, 3);
        for (int i = 0; i < 5; i++) {
                scoreboard_request_begin(s1, i);
                scoreboard_request_end(s1, 250, 100, i == 0, 200);
        }
        scoreboard_request_begin(s2, 9); /* in flight */

        char *text = scoreboard_stats_json(sb, &info, 65536);
        assert_non_null(text);
        assert_null(strchr(text, '\n')); /* one line: it travels in an sd_notify assignment */
        cJSON *root = cJSON_Parse(text);
        assert_non_null(root);

        assert_string_equal(string(root, "version"), "9.9.9");
        assert_int_equal(number(root, "pid"), 4242);
        assert_int_equal(number(root, "listen_queue"), 7);
        assert_int_equal(number(root, "load"), 1);
        assert_int_equal(number(root, "requests"), 5);
        assert_int_equal(number(root, "exceptions"), 1);
        assert_null(cJSON_GetObjectItemCaseSensitive(root, "workers_truncated"));

        const cJSON *workers = cJSON_GetObjectItemCaseSensitive(root, "workers");
        assert_true(cJSON_IsArray(workers));
        assert_int_equal(cJSON_GetArraySize(workers), 3);
        const cJSON *w1 = cJSON_GetArrayItem(workers, 0), *w2 = cJSON_GetArrayItem(workers, 1),
                    *w3 = cJSON_GetArrayItem(workers, 2);
        assert_int_equal(number(w1, "id"), 1);
        assert_int_equal(number(w1, "pid"), 101);
        assert_int_equal(number(w1, "requests"), 5);
        assert_int_equal(number(w1, "exceptions"), 1);
        assert_string_equal(string(w1, "status"), "idle");
        assert_int_equal(number(w1, "avg_rt"), 250);
        assert_int_equal(number(w1, "tx"), 500);
        assert_int_equal(number(w1, "running_time"), 1250);
        assert_int_equal(number(w1, "respawn_count"), 0);
        assert_true(number(w1, "last_spawn") > 0);
        assert_int_equal(number(w2, "id"), 2);
        assert_string_equal(string(w2, "status"), "busy");
        assert_int_equal(number(w2, "respawn_count"), 3);
        assert_int_equal(number(w3, "pid"), 0);
        assert_string_equal(string(w3, "status"), "idle");

        cJSON_Delete(root);
        free(text);
}

/* A thread's core: its request in flight is read back whole, cut to the core's size, and goes
 * idle at its end; the per-core counter counts. */
static void test_core_request(void **state) {
        Scoreboard *sb = *state;
        ScoreboardCore *c = scoreboard_core(sb, 2, 1);
        ScoreboardRequest req;
        char long_uri[1000];

        assert_int_equal(scoreboard_cores_per_slot(sb), 2);
        assert_null(scoreboard_core(sb, 2, 2));
        assert_null(scoreboard_core(sb, 4, 0));
        assert_ptr_not_equal(scoreboard_core(sb, 1, 1), scoreboard_core(sb, 2, 0));
        assert_false(scoreboard_core_request(c, &req));

        scoreboard_core_begin(c, 1234, "GET", 3, "/x?y=1", 6);
        assert_true(scoreboard_core_request(c, &req));
        assert_int_equal(req.start, 1234);
        assert_string_equal(req.method, "GET");
        assert_string_equal(req.uri, "/x?y=1");
        scoreboard_core_end(c);
        assert_false(scoreboard_core_request(c, &req));
        assert_int_equal(atomic_load(&c->requests), 1);

        memset(long_uri, 'a', sizeof(long_uri));
        scoreboard_core_begin(c, 99, "A-VERY-LONG-METHOD-NAME", 23, long_uri, sizeof(long_uri));
        assert_true(scoreboard_core_request(c, &req));
        assert_int_equal(strlen(req.method), SCOREBOARD_METHOD_MAX);
        assert_int_equal(strlen(req.uri), SCOREBOARD_URI_MAX);
        /* Garbage lengths (a worker scribbling on shared memory) are clamped. */
        c->uri_len = 60000;
        assert_true(scoreboard_core_request(c, &req));
        assert_int_equal(req.uri_len, SCOREBOARD_URI_MAX);
        scoreboard_core_end(c);
}

/* A worker killed mid-request leaves no start time for the next process of its slot: harakiri
 * would kill that one at once. */
static void test_exit_clears_the_cores(void **state) {
        Scoreboard *sb = *state;
        ScoreboardSlot *s = scoreboard_slot(sb, 3);
        ScoreboardRequest req;

        scoreboard_slot_spawned(s, 300, 0);
        scoreboard_core_begin(scoreboard_core(sb, 3, 0), 10, "GET", 3, "/a", 2);
        scoreboard_core_begin(scoreboard_core(sb, 3, 1), 20, "GET", 3, "/b", 2);
        scoreboard_core_begin(scoreboard_core(sb, 2, 0), 30, "GET", 3, "/c", 2);
        scoreboard_slot_exited(s);
        assert_false(scoreboard_core_request(scoreboard_core(sb, 3, 0), &req));
        assert_false(scoreboard_core_request(scoreboard_core(sb, 3, 1), &req));
        /* Another slot's are its own. */
        assert_true(scoreboard_core_request(scoreboard_core(sb, 2, 0), &req));
}

static bool valid_utf8(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        while (*p) {
                size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
                           : (*p & 0xf8) == 0xf0 ? 4 : 0;
                if (n == 0)
                        return false;
                for (size_t i = 1; i < n; i++)
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                p += n;
        }
        return true;
}

/* The stats server's object: uWSGI's top-level fields, each worker's cores, and request data
 * that stays valid JSON and valid UTF-8 whatever bytes a client sent. */
static void test_json_cores_and_request_bytes(void **state) {
        Scoreboard *sb = *state;
        ScoreboardSlot *s1 = scoreboard_slot(sb, 1);
        const ScoreboardSocket sockets[] = { { "127.0.0.1:8080", "http", 3, 100 },
                                             { "/run/a.sock", "uwsgi", 0, 0 } };
        ScoreboardInfo full = info;
        full.listen_queue_errors = 5;
        full.uid = 33;
        full.gid = 44;
        full.cwd = "/srv/\"app\"";
        full.log = "/var/log/app.log";
        full.sockets = sockets;
        full.n_sockets = sizeof(sockets) / sizeof(sockets[0]);
        full.cores = true;
        /* A quote, a backslash, a control byte, an invalid byte, a valid é, a truncated
         * sequence, an overlong '/', a surrogate, NUL. */
        static const char uri[] = "/q\"\\\x01\xff\xc3\xa9\xe2\x82\xc0\xaf\xed\xa0\x80\0z";

        scoreboard_slot_spawned(s1, 101, 0);
        for (int i = 0; i < 3; i++) {
                scoreboard_request_begin(s1, i);
                scoreboard_request_end(s1, 100, 10, false, 200);
        }
        scoreboard_slot_spawned(s1, 102, 1); /* respawned: delta_requests starts over */
        scoreboard_request_begin(s1, 5);
        scoreboard_request_end(s1, 100, 10, false, 200);
        atomic_store(&s1->harakiri_count, 2);
        atomic_store(&s1->rss, 12345678);
        atomic_store(&s1->vsz, 87654321);
        scoreboard_core_begin(scoreboard_core(sb, 1, 1), 1, "GET", 3, uri, sizeof(uri) - 1);
        /* Slot 2 has no process: whatever its core says, it is not in a request. */
        scoreboard_core_begin(scoreboard_core(sb, 2, 0), 1, "GET", 3, "/ghost", 6);

        char *text = scoreboard_stats_json(sb, &full, SIZE_MAX);
        assert_non_null(text);
        assert_true(valid_utf8(text));
        cJSON *root = cJSON_Parse(text);
        assert_non_null(root);
        assert_int_equal(number(root, "listen_queue_errors"), 5);
        assert_int_equal(number(root, "signal_queue"), 0);
        assert_int_equal(number(root, "uid"), 33);
        assert_int_equal(number(root, "gid"), 44);
        assert_string_equal(string(root, "cwd"), "/srv/\"app\"");
        assert_string_equal(string(root, "log"), "/var/log/app.log");
        assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "locks")));
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "sockets");
        assert_int_equal(cJSON_GetArraySize(so), 2);
        assert_string_equal(string(cJSON_GetArrayItem(so, 0), "name"), "127.0.0.1:8080");
        assert_string_equal(string(cJSON_GetArrayItem(so, 1), "proto"), "uwsgi");
        assert_int_equal(number(cJSON_GetArrayItem(so, 0), "queue"), 3);
        assert_int_equal(number(cJSON_GetArrayItem(so, 0), "max_queue"), 100);

        const cJSON *workers = cJSON_GetObjectItemCaseSensitive(root, "workers");
        const cJSON *w1 = cJSON_GetArrayItem(workers, 0), *w2 = cJSON_GetArrayItem(workers, 1);
        assert_int_equal(number(w1, "requests"), 4);
        assert_int_equal(number(w1, "delta_requests"), 1);
        assert_int_equal(number(w1, "harakiri_count"), 2);
        assert_int_equal(number(w1, "rss"), 12345678);
        assert_int_equal(number(w1, "vsz"), 87654321);
        assert_int_equal(number(w1, "accepting"), 1);
        assert_int_equal(number(w2, "accepting"), 0);
        const cJSON *cores = cJSON_GetObjectItemCaseSensitive(w1, "cores");
        assert_int_equal(cJSON_GetArraySize(cores), 2);
        const cJSON *c0 = cJSON_GetArrayItem(cores, 0), *c1 = cJSON_GetArrayItem(cores, 1);
        assert_int_equal(number(c0, "id"), 0);
        assert_int_equal(number(c0, "in_request"), 0);
        assert_null(cJSON_GetObjectItemCaseSensitive(c0, "vars"));
        assert_int_equal(number(c1, "id"), 1);
        assert_int_equal(number(c1, "in_request"), 1);
        const cJSON *vars = cJSON_GetObjectItemCaseSensitive(c1, "vars");
        assert_int_equal(cJSON_GetArraySize(vars), 2);
        assert_string_equal(cJSON_GetArrayItem(vars, 0)->valuestring, "REQUEST_METHOD=GET");
        /* Every malformed byte is one U+FFFD; the NUL too, and what follows it is kept. */
        assert_string_equal(cJSON_GetArrayItem(vars, 1)->valuestring,
                            "REQUEST_URI=/q\"\\\x01\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd"
                            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
        assert_true(number(cJSON_GetObjectItemCaseSensitive(c1, "req_info"), "request_start") >= 0);
        const cJSON *w2c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w2, "cores"), 0);
        assert_int_equal(number(w2c, "in_request"), 0);
        cJSON_Delete(root);
        free(text);

        /* X_STATS leaves the cores out. */
        text = scoreboard_stats_json(sb, &info, SIZE_MAX);
        assert_non_null(text);
        assert_null(strstr(text, "\"cores\""));
        free(text);
}

/* 1024 workers do not fit a small budget: the array is cut, the totals stay whole. */
static void test_json_truncated_to_fit(void **state) {
        Scoreboard *sb = NULL;
        (void) state;

        assert_int_equal(scoreboard_new(1024, 4, &sb), 0);
        for (size_t id = 1; id <= 1024; id++) {
                ScoreboardSlot *s = scoreboard_slot(sb, id);
                scoreboard_slot_spawned(s, 10000 + (pid_t) id, id);
                scoreboard_request_begin(s, 1);
                scoreboard_request_end(s, 123456, 1000000, false, 200);
        }

        char *full = scoreboard_stats_json(sb, &info, SIZE_MAX);
        assert_non_null(full);
        assert_true(strlen(full) > 60000);
        free(full);

        for (size_t budget = 60 * 1024; budget >= 1024; budget /= 4) {
                char *text = scoreboard_stats_json(sb, &info, budget);
                assert_non_null(text);
                assert_true(strlen(text) < budget);
                cJSON *root = cJSON_Parse(text);
                assert_non_null(root);
                int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "workers"));
                assert_true(n > 0 && n < 1024);
                /* Not cut much deeper than needed. */
                assert_true(strlen(text) > budget / 2);
                assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root,
                                                                          "workers_truncated")));
                assert_int_equal(number(root, "requests"), 1024);
                assert_int_equal(number(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
                                                                    root, "workers"),
                                                            n - 1),
                                        "id"),
                                 n);
                cJSON_Delete(root);
                free(text);
        }
        /* No room even for the totals. */
        assert_null(scoreboard_stats_json(sb, &info, 64));
        scoreboard_free(sb);
}

static void test_status_line(void **state) {
        Scoreboard *sb = *state;
        char buf[128];

        scoreboard_status(sb, buf, sizeof(buf));
        assert_string_equal(buf, "0 workers, 0 busy, 0 requests");
        scoreboard_slot_spawned(scoreboard_slot(sb, 1), 1, 0);
        scoreboard_slot_spawned(scoreboard_slot(sb, 2), 2, 0);
        scoreboard_request_begin(scoreboard_slot(sb, 1), 1);
        scoreboard_request_begin(scoreboard_slot(sb, 2), 1);
        scoreboard_request_end(scoreboard_slot(sb, 2), 1, 1, false, 200);
        scoreboard_status(sb, buf, sizeof(buf));
        assert_string_equal(buf, "2 workers, 1 busy, 1 request");
}

/* ---- response times, errors and the stats interval's measures ---- */

static void test_rt_buckets(void **state) {
        (void) state;
        /* Strictly increasing, from 0.25 ms to 30 s. */
        assert_int_equal(scoreboard_rt_bounds[0], 250);
        assert_int_equal(scoreboard_rt_bounds[SCOREBOARD_RT_BUCKETS - 2], 30000000);
        for (size_t i = 1; i < SCOREBOARD_RT_BUCKETS - 1; i++)
                assert_true(scoreboard_rt_bounds[i] > scoreboard_rt_bounds[i - 1]);
        /* A bound belongs to its bucket ("le"); past the last one is +Inf. */
        assert_int_equal(scoreboard_rt_bucket(0), 0);
        assert_int_equal(scoreboard_rt_bucket(250), 0);
        assert_int_equal(scoreboard_rt_bucket(251), 1);
        assert_int_equal(scoreboard_rt_bucket(50000), 12); /* (40 ms, 60 ms] */
        assert_int_equal(scoreboard_rt_bounds[12], 60000);
        assert_int_equal(scoreboard_rt_bucket(30000000), SCOREBOARD_RT_BUCKETS - 2);
        assert_int_equal(scoreboard_rt_bucket(30000001), SCOREBOARD_RT_BUCKETS - 1);
        assert_int_equal(scoreboard_rt_bucket(UINT64_MAX), SCOREBOARD_RT_BUCKETS - 1);
}

/* Requests of rt µs on slot id. */
static void serve(Scoreboard *sb, size_t id, unsigned n, uint64_t rt) {
        ScoreboardSlot *s = scoreboard_slot(sb, id);
        for (unsigned i = 0; i < n; i++) {
                scoreboard_request_begin(s, 1);
                scoreboard_request_end(s, rt, 0, false, 200);
        }
}

static void test_quantile_of_nothing_is_unknown(void **state) {
        ScoreboardHistogram h = {};
        (void) state;
        assert_true(scoreboard_histogram_quantile(&h, 0.99) < 0);
        assert_int_equal(scoreboard_histogram_count(&h), 0);
}

/* Every request in one bucket: the quantile is where its rank falls in that bucket. */
static void test_quantile_all_in_one_bucket(void **state) {
        Scoreboard *sb = *state;
        ScoreboardHistogram h;

        serve(sb, 1, 100, 50000); /* 50 ms: (40 ms, 60 ms] */
        scoreboard_histogram(sb, &h);
        assert_int_equal(scoreboard_histogram_count(&h), 100);
        assert_int_equal(h.sum, 100 * 50000);
        assert_float_equal(scoreboard_histogram_quantile(&h, 0.99), 40000 + 20000 * 0.99, 1e-6);
        assert_float_equal(scoreboard_histogram_quantile(&h, 0.5), 50000, 1e-6);
        assert_float_equal(scoreboard_histogram_quantile(&h, 1), 60000, 1e-6);

        /* The first bucket starts at 0. */
        Scoreboard *fast = NULL;
        assert_int_equal(scoreboard_new(1, 0, &fast), 0);
        serve(fast, 1, 1, 100);
        scoreboard_histogram(fast, &h);
        assert_float_equal(scoreboard_histogram_quantile(&h, 0.99), 250 * 0.99, 1e-6);
        /* Past 30 s nothing is known but that: +Inf answers its lower bound. */
        serve(fast, 1, 1000, 40000000);
        scoreboard_histogram(fast, &h);
        assert_float_equal(scoreboard_histogram_quantile(&h, 0.99), 30000000, 1e-6);
        scoreboard_free(fast);
}

/* Spread over two slots and two buckets: the rank is found across both, then interpolated. */
static void test_quantile_interpolates_within_its_bucket(void **state) {
        Scoreboard *sb = *state;
        ScoreboardHistogram h;

        serve(sb, 1, 60, 100);  /* [0, 250 µs] */
        serve(sb, 2, 30, 200);  /* the same bucket, another worker */
        serve(sb, 3, 10, 1200); /* (1 ms, 1.5 ms] */
        scoreboard_histogram(sb, &h);
        assert_int_equal(scoreboard_histogram_count(&h), 100);
        assert_int_equal(h.counts[0], 90);
        assert_int_equal(h.counts[4], 10);
        /* Rank 99: the 9th of the 10 in (1000, 1500]. */
        assert_float_equal(scoreboard_histogram_quantile(&h, 0.99), 1000 + 500 * 9 / 10.0, 1e-6);
        /* Rank 45: half of the 90 in [0, 250]. */
        assert_float_equal(scoreboard_histogram_quantile(&h, 0.45), 125, 1e-6);
        /* Rank 90 exactly: the top of the first bucket, not the next one. */
        assert_float_equal(scoreboard_histogram_quantile(&h, 0.9), 250, 1e-6);
}

/* The window's p99 is over its own requests: deltas of counters that survive a respawn. */
static void test_window_p99_across_a_respawn(void **state) {
        Scoreboard *sb = *state;
        ScoreboardSlot *s = scoreboard_slot(sb, 1);
        ScoreboardWindow w;

        scoreboard_slot_spawned(s, 100, 0);
        serve(sb, 1, 1000, 2000000); /* before the window: 2 s each */
        scoreboard_window_init(&w, sb, 1000000, 0, 2);
        assert_false(w.measured);

        serve(sb, 1, 100, 100);
        scoreboard_slot_exited(s); /* killed */
        scoreboard_slot_spawned(s, 101, 1);
        serve(sb, 1, 100, 100);
        scoreboard_window_advance(&w, sb, 2000000, 0);
        assert_true(w.measured);
        /* The 2 s requests were before: 200 fast ones only. */
        assert_float_equal(w.p99_rt, 250 * 0.99, 1e-6);

        /* Nothing completed: unknown, not 0. */
        scoreboard_window_advance(&w, sb, 3000000, 0);
        assert_true(w.p99_rt < 0);

        serve(sb, 1, 10, 50000);
        scoreboard_slot_exited(s);
        scoreboard_slot_spawned(s, 102, 2);
        scoreboard_window_advance(&w, sb, 4000000, 0);
        assert_float_equal(w.p99_rt, 40000 + 20000 * 0.99, 1e-6);
        assert_int_equal(atomic_load(&s->requests), 1210);
}

/* The CPU percentage: used over elapsed, never negative, never past every CPU busy. */
static void test_window_cpu(void **state) {
        Scoreboard *sb = *state;
        ScoreboardWindow w;

        scoreboard_window_init(&w, sb, 10000000, 0, 2);
        scoreboard_window_advance(&w, sb, 12000000, 500000); /* 0.5 s in 2 s */
        assert_float_equal(w.cpu, 25, 1e-9);
        assert_int_equal(w.cpu_time, 500000);
        scoreboard_window_advance(&w, sb, 13000000, 1500000); /* two workers, a core each */
        assert_float_equal(w.cpu, 100, 1e-9);
        /* A total that went back (it must not, but): 0, and the cumulative stays. */
        scoreboard_window_advance(&w, sb, 14000000, 1000000);
        assert_float_equal(w.cpu, 0, 1e-9);
        assert_int_equal(w.cpu_time, 1500000);
        /* ... and the next interval counts from where it was, not from the dip. */
        scoreboard_window_advance(&w, sb, 15000000, 2000000);
        assert_float_equal(w.cpu, 50, 1e-9);
        /* More than 2 CPUs can give: clamped. */
        scoreboard_window_advance(&w, sb, 16000000, 9000000);
        assert_float_equal(w.cpu, 200, 1e-9);
        /* No time passed: 0, not a division by zero. */
        scoreboard_window_advance(&w, sb, 16000000, 9500000);
        assert_float_equal(w.cpu, 0, 1e-9);
}

static void test_errors_count_5xx_and_exceptions_once(void **state) {
        Scoreboard *sb = *state;
        ScoreboardSlot *s = scoreboard_slot(sb, 1);
        ScoreboardTotals t;
        static const struct {
                int status;
                bool exception;
        } reqs[] = { { 200, false }, { 404, false }, { 499, false }, { 500, false },
                     { 503, false }, { 500, true },  { 200, true } /* raised mid-stream */ };

        for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
                scoreboard_request_begin(s, 1);
                scoreboard_request_end(s, 10, 0, reqs[i].exception, reqs[i].status);
        }
        assert_int_equal(atomic_load(&s->errors), 4);
        assert_int_equal(atomic_load(&s->exceptions), 2);
        scoreboard_slot_exited(s);
        scoreboard_slot_spawned(s, 7, 1);
        scoreboard_totals(sb, &t);
        assert_int_equal(t.errors, 4);
        assert_int_equal(t.exceptions, 2);
        assert_int_equal(t.requests, 7);
}

/* "errors", "rt_hist" (cumulative, monotone, as long as le_us, count = +Inf = requests) and the
 * interval's measures: absent before one was measured, p99_rt null for an idle interval. */
static void test_json_errors_histogram_and_measures(void **state) {
        Scoreboard *sb = *state;
        ScoreboardInfo with = info;
        ScoreboardWindow w;

        serve(sb, 1, 5, 100);
        serve(sb, 2, 3, 50000);
        serve(sb, 2, 2, 40000000); /* +Inf */
        scoreboard_request_begin(scoreboard_slot(sb, 3), 1);
        scoreboard_request_end(scoreboard_slot(sb, 3), 300, 0, true, 500);

        scoreboard_window_init(&w, sb, 0, 0, 1);
        with.window = &w;
        char *text = scoreboard_stats_json(sb, &with, 65536);
        assert_non_null(text);
        cJSON *root = cJSON_Parse(text);
        assert_non_null(root);
        assert_int_equal(number(root, "errors"), 1);
        assert_int_equal(number(root, "exceptions"), 1);
        assert_int_equal(number(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "workers"),
                                                    2),
                                "errors"),
                         1);
        assert_null(cJSON_GetObjectItemCaseSensitive(root, "p99_rt"));
        assert_null(cJSON_GetObjectItemCaseSensitive(root, "cpu"));
        const cJSON *hist = cJSON_GetObjectItemCaseSensitive(root, "rt_hist");
        const cJSON *le = cJSON_GetObjectItemCaseSensitive(hist, "le_us");
        const cJSON *counts = cJSON_GetObjectItemCaseSensitive(hist, "counts");
        assert_int_equal(cJSON_GetArraySize(le), SCOREBOARD_RT_BUCKETS - 1);
        assert_int_equal(cJSON_GetArraySize(counts), SCOREBOARD_RT_BUCKETS - 1);
        assert_int_equal(number(hist, "count"), 11);
        assert_int_equal(number(hist, "sum_us"), 5 * 100 + 3 * 50000 + 2 * 40000000 + 300);
        double prev = 0;
        for (int i = 0; i < cJSON_GetArraySize(counts); i++) {
                double c = cJSON_GetArrayItem(counts, i)->valuedouble;
                assert_true(c >= prev);
                assert_int_equal(cJSON_GetArrayItem(le, i)->valuedouble, scoreboard_rt_bounds[i]);
                prev = c;
        }
        assert_int_equal(cJSON_GetArrayItem(counts, 0)->valuedouble, 5);
        assert_int_equal(cJSON_GetArrayItem(counts, 1)->valuedouble, 6); /* 300 µs */
        assert_int_equal(cJSON_GetArrayItem(counts, 12)->valuedouble, 9);
        assert_int_equal(prev, 9); /* the two past 30 s are only in count */
        cJSON_Delete(root);
        free(text);

        /* An interval measured with no request in it: p99_rt is null. */
        scoreboard_window_advance(&w, sb, 1000000, 250000);
        text = scoreboard_stats_json(sb, &with, 65536);
        root = cJSON_Parse(text);
        assert_non_null(root);
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "p99_rt")));
        assert_float_equal(number(root, "cpu"), 25, 1e-9);
        assert_int_equal(number(root, "cpu_time"), 250000);
        cJSON_Delete(root);
        free(text);

        /* One with requests: a number, in whole µs. */
        serve(sb, 1, 1, 50000);
        scoreboard_window_advance(&w, sb, 2000000, 250000);
        text = scoreboard_stats_json(sb, &with, 65536);
        root = cJSON_Parse(text);
        assert_non_null(root);
        assert_int_equal(number(root, "p99_rt"), 59800);
        assert_float_equal(number(root, "cpu"), 0, 1e-9);
        cJSON_Delete(root);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_slots_are_one_based_and_zeroed, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_request_counters, setup, teardown),
                cmocka_unit_test_setup_teardown(test_respawn_keeps_counters_and_clears_busy,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_shared_across_fork, setup, teardown),
                cmocka_unit_test_setup_teardown(test_json_round_trip, setup, teardown),
                cmocka_unit_test(test_json_truncated_to_fit),
                cmocka_unit_test_setup_teardown(test_core_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exit_clears_the_cores, setup, teardown),
                cmocka_unit_test_setup_teardown(test_json_cores_and_request_bytes, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_status_line, setup, teardown),
                cmocka_unit_test(test_rt_buckets),
                cmocka_unit_test(test_quantile_of_nothing_is_unknown),
                cmocka_unit_test_setup_teardown(test_quantile_all_in_one_bucket, setup, teardown),
                cmocka_unit_test_setup_teardown(test_quantile_interpolates_within_its_bucket,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_p99_across_a_respawn, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_window_cpu, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors_count_5xx_and_exceptions_once, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_json_errors_histogram_and_measures, setup,
                                                teardown),
        };
        return cmocka_run_group_tests_name("scoreboard", tests, NULL, NULL);
}
