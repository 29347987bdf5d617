/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query.h"
#include "store.h"
#include "macro.h"

/* 2026-01-01T00:00:00Z: an hour boundary, so rollup buckets are easy to count. */
#define T0_MS 1767225600000ULL

typedef struct Fixture {
        char dir[64];
        uint64_t now_ms;
        StoreOptions o;
} Fixture;

static uint64_t fake_now(void *userdata) {
        return ((Fixture *) userdata)->now_ms;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-store.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        f->now_ms = T0_MS;
        f->o = (StoreOptions) { .state_dir = f->dir, .now = fake_now, .userdata = f };
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static char *db_path(Fixture *f) {
        static char path[128];
        snprintf(path, sizeof(path), "%s/stats.db", f->dir);
        return path;
}

/* One integer from a query on a connection of our own (as emperorctl would read). */
static int64_t query_int(Fixture *f, const char *sql) {
        sqlite3 *db;
        sqlite3_stmt *st;
        int64_t v = -1;
        assert_int_equal(sqlite3_open_v2(db_path(f), &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

/* A vassal's raw samples as the readers see them (store/query.c): journal and blocks. */
typedef struct Raw {
        size_t n;
        double sum_requests, last_requests;
        int64_t ts[64];
        double rps[64];
} Raw;

static int raw_row(const QueryRow *r, void *userdata) {
        Raw *raw = userdata;
        if (raw->n < 64) {
                raw->ts[raw->n] = r->ts;
                raw->rps[raw->n] = r->rps;
        }
        raw->n++;
        raw->sum_requests += r->requests;
        raw->last_requests = r->requests;
        return 0;
}

static Raw raw_of(Fixture *f, const char *name) {
        sqlite3 *db;
        char err[256];
        Raw raw = {};
        int64_t now = (int64_t) (f->now_ms / 1000);
        assert_int_equal(query_open(db_path(f), &db, err, sizeof(err)), 0);
        int r = query_samples(db, name, now - 86400, now + 10, 1, raw_row, &raw, err, sizeof(err));
        if (r != 0)
                fail_msg("query_samples(%s): %d %s", name, r, err);
        sqlite3_close(db);
        return raw;
}

static StoreSample sample(const char *name, pid_t pid, uint64_t requests) {
        return (StoreSample) {
                .name = name,
                .ini = "/etc/apps.d/x.ini",
                .pid = pid,
                .requests = requests,
                .avg_rt_ms = 2.5,
                .p99_rt_ms = NAN,
                .rss = 50 << 20,
                .cpu = NAN,
                .busy = 1,
                .total = 4,
        };
}

static void test_migrations_from_empty_and_reopen(void **state) {
        Fixture *f = *state;
        Store *s;

        /* A state dir that does not exist yet, two levels deep. */
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/a/b", f->dir);
        f->o.state_dir = dir;
        assert_int_equal(store_new(&f->o, &s), 0);
        assert_true(store_healthy(s));
        StoreSample x = sample("app", 10, 5);
        assert_int_equal(store_tick(s, &x, 1), 0);
        store_free(s);

        snprintf(dir, sizeof(dir), "%s/a/b/stats.db", f->dir);
        f->o.state_dir = f->dir;
        assert_int_equal(rename(dir, db_path(f)), 0);
        assert_int_equal(query_int(f, "PRAGMA user_version"), 2);
        assert_int_equal(raw_of(f, "app").n, 1);

        /* Reopening migrates nothing and keeps the rows. */
        f->now_ms += 1000;
        assert_int_equal(store_new(&f->o, &s), 0);
        assert_true(store_healthy(s));
        x.requests = 7;
        assert_int_equal(store_tick(s, &x, 1), 0);
        store_free(s);
        assert_int_equal(query_int(f, "PRAGMA user_version"), 2);
        assert_int_equal(raw_of(f, "app").n, 2);
        assert_int_equal(query_int(f, "SELECT count(*) FROM vassals"), 1);
        assert_int_equal(query_int(f, "SELECT count(*) FROM meta"), 2);
        /* WAL: readers never block the writer. */
        sqlite3 *db;
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_open(db_path(f), &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *) sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static void test_migration_from_version_1(void **state) {
        Fixture *f = *state;
        Store *s;
        sqlite3 *db;

        /* A version 1 file, as the emperor of the previous schema left it. */
        assert_int_equal(sqlite3_open(db_path(f), &db), SQLITE_OK);
        assert_int_equal(
                sqlite3_exec(db,
                             "PRAGMA journal_mode = WAL;"
                             "CREATE TABLE vassals(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
                             " ini TEXT, first_seen INTEGER, last_seen INTEGER);"
                             "CREATE TABLE events(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
                             " vassal_id INTEGER, kind TEXT NOT NULL, detail TEXT);"
                             "CREATE INDEX events_vassal_ts ON events(vassal_id, ts);"
                             "CREATE INDEX events_ts ON events(ts);"
                             "CREATE TABLE samples(vassal_id INTEGER NOT NULL, ts INTEGER NOT NULL,"
                             " resolution INTEGER NOT NULL, requests INTEGER, rps REAL,"
                             " errors INTEGER, avg_rt_ms REAL, p99_rt_ms REAL, rss INTEGER,"
                             " cpu REAL, busy INTEGER, total INTEGER, listen_queue INTEGER,"
                             " respawns INTEGER, PRIMARY KEY(vassal_id, resolution, ts))"
                             " WITHOUT ROWID;"
                             "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;"
                             "INSERT INTO vassals VALUES (1, 'app', '/etc/apps.d/app.ini', 1, 1);"
                             "INSERT INTO events VALUES (1, 1767225599000, 1, 'spawn', 'pid 5');"
                             "INSERT INTO samples(vassal_id, ts, resolution, requests)"
                             " VALUES (1, 1, 1, 10);"
                             "INSERT INTO meta VALUES ('rollup_60', 0), ('rollup_3600', 0);"
                             "PRAGMA user_version = 1;",
                             NULL, NULL, NULL),
                SQLITE_OK);
        sqlite3_close(db);

        assert_int_equal(store_new(&f->o, &s), 0);
        assert_true(store_healthy(s));
        StoreSample x = sample("app", 10, 5);
        assert_int_equal(store_tick(s, &x, 1), 0);
        store_free(s);
        assert_int_equal(query_int(f, "PRAGMA user_version"), 2);
        assert_int_equal(query_int(f, "SELECT count(*) FROM sqlite_schema WHERE name = 'samples'"), 0);
        /* The vassals and their events stay; the watermarks start at the new schema's open. */
        assert_int_equal(query_int(f, "SELECT count(*) FROM vassals"), 1);
        assert_int_equal(query_int(f, "SELECT count(*) FROM events WHERE kind = 'spawn'"), 1);
        assert_int_equal(query_int(f, "SELECT value FROM meta WHERE key = 'rollup_60'"),
                         (int64_t) (T0_MS / 1000));
        assert_int_equal(raw_of(f, "app").n, 1);
}

static int count_commits(void *userdata) {
        (*(int *) userdata)++;
        return 0;
}

static void test_tick_writes_the_fleet_in_one_transaction(void **state) {
        Fixture *f = *state;
        Store *s;
        int commits = 0;

        assert_int_equal(store_new(&f->o, &s), 0);
        (void) sqlite3_commit_hook(store_db(s), count_commits, &commits);
        StoreSample fleet[50];
        char names[50][16];
        for (int k = 0; k < 50; k++) {
                snprintf(names[k], sizeof(names[k]), "app%d", k);
                fleet[k] = sample(names[k], 100 + k, 0);
        }
        assert_int_equal(store_tick(s, fleet, 50), 0);
        assert_true(commits >= 1); /* and the first rollup pass, in transactions of its own */
        commits = 0;
        f->now_ms += 1000;
        for (int k = 0; k < 50; k++)
                fleet[k].requests = 10 * k;
        assert_int_equal(store_tick(s, fleet, 50), 0);
        assert_int_equal(commits, 1);
        assert_int_equal(store_pending(s), 0);
        store_free(s);
        /* Both ticks in the journal: the minute is not over. */
        assert_int_equal(query_int(f, "SELECT count(*) FROM recent"), 100);
        assert_int_equal(query_int(f, "SELECT count(*) FROM blocks"), 0);
        assert_int_equal(query_int(f, "SELECT count(*) FROM vassals"), 50);
        assert_int_equal(query_int(f, "SELECT max(ts) - min(ts) FROM recent"), 1);
        assert_int_equal(query_int(f, "SELECT requests FROM recent JOIN vassals ON id = vassal_id"
                                      " WHERE name = 'app7' ORDER BY ts DESC LIMIT 1"),
                         70);
}

static void test_rps_from_the_requests_delta(void **state) {
        Fixture *f = *state;
        Store *s;
        StoreSample x = sample("app", 10, 100);

        assert_int_equal(store_new(&f->o, &s), 0);
        assert_int_equal(store_tick(s, &x, 1), 0); /* first sample of the process: no rate */
        f->now_ms += 2000;
        x.requests = 300;
        assert_int_equal(store_tick(s, &x, 1), 0); /* 200 in 2 s */
        f->now_ms += 1000;
        x.pid = 11; /* a new process: its counter starts over, and so does the rate */
        x.requests = 3;
        assert_int_equal(store_tick(s, &x, 1), 0);
        f->now_ms += 1000;
        x.requests = 53;
        x.report_usec = 5000000;
        assert_int_equal(store_tick(s, &x, 1), 0);
        f->now_ms += 1000;
        x.requests = 103;
        x.report_usec = 5500000; /* the report's own time counts, not the tick's */
        assert_int_equal(store_tick(s, &x, 1), 0);
        f->now_ms += 1000;
        assert_int_equal(store_tick(s, &x, 1), 0); /* the same report again: the same rate */
        store_free(s);

        int64_t t = T0_MS / 1000;
        const double want[] = { -1, 100, -1, 50, 100, 100 };
        const int64_t at[] = { 0, 2, 3, 4, 5, 6 };
        Raw raw = raw_of(f, "app");
        assert_int_equal(raw.n, ELEMENTSOF(want));
        for (size_t k = 0; k < ELEMENTSOF(want); k++) {
                assert_int_equal(raw.ts[k], t + at[k]);
                if (want[k] < 0)
                        assert_true(isnan(raw.rps[k]));
                else
                        assert_float_equal(raw.rps[k], want[k], 1e-9);
        }
}

static void test_events_are_written_at_once(void **state) {
        Fixture *f = *state;
        Store *s;

        assert_int_equal(store_new(&f->o, &s), 0);
        assert_int_equal(store_event(s, "app", "/etc/apps.d/app.ini", "found", "/etc/apps.d/app.ini"), 0);
        assert_int_equal(store_event(s, "app", NULL, "exit", "pid 12 killed by signal KILL"), 0);
        assert_int_equal(store_event(s, NULL, NULL, "emperor", "started"), 0);
        /* Read while the store is open: nothing waits for a tick. */
        assert_int_equal(query_int(f, "SELECT count(*) FROM events"), 3);
        assert_int_equal(query_int(f, "SELECT count(*) FROM events JOIN vassals ON vassals.id = vassal_id "
                                      "WHERE name = 'app' AND ini = '/etc/apps.d/app.ini'"),
                         2);
        assert_int_equal(query_int(f, "SELECT count(*) FROM events WHERE vassal_id IS NULL"), 1);
        assert_int_equal(query_int(f, "SELECT ts FROM events WHERE kind = 'exit'"), (int64_t) T0_MS);

        /* Harakiris and recycles are the vassal's own events (X_EVENT): a rise of the counters
         * in the stats makes none of its own, or each would be there twice. */
        StoreSample x = sample("app", 10, 0);
        assert_int_equal(store_tick(s, &x, 1), 0);
        x.respawns = 3;
        x.harakiris = 1;
        f->now_ms += 1000;
        assert_int_equal(store_tick(s, &x, 1), 0);
        store_free(s);
        assert_int_equal(query_int(f, "SELECT count(*) FROM events"), 3);
}

/* The bucket of one ts out of a query. */
typedef struct Picked {
        int64_t ts;
        QueryRow r;
        bool found;
} Picked;

static int pick(const QueryRow *r, void *userdata) {
        Picked *p = userdata;
        if (r->ts == p->ts) {
                p->r = *r;
                p->found = true;
        }
        return 0;
}

static void test_rollups_raw_minutes_hours(void **state) {
        Fixture *f = *state;
        Store *s;
        StoreSample x = sample("app", 10, 0);

        assert_int_equal(store_new(&f->o, &s), 0);
        /* Two hours and a bit of 1 s ticks at 10 requests a second; p99 peaks once. */
        for (int k = 0; k <= 2 * 3600 + 120; k++) {
                x.requests = (uint64_t) k * 10;
                x.p99_rt_ms = k == 1800 ? 900 : 20;
                x.rss = (uint64_t) (k % 60 == 30 ? 80 : 50) << 20;
                x.busy = k % 2;
                assert_int_equal(store_tick(s, &x, 1), 0);
                f->now_ms += 1000;
        }
        store_free(s);
        int64_t t = T0_MS / 1000;
        /* Every closed minute packed (one block each) and rolled up into its hour's block; the
         * minute in progress still in the journal. */
        assert_int_equal(query_int(f, "SELECT count(*) FROM blocks WHERE resolution = 1"), 122);
        assert_int_equal(query_int(f, "SELECT count(*) FROM blocks WHERE resolution = 60"), 3);
        assert_int_equal(query_int(f, "SELECT sum(n) FROM blocks WHERE resolution = 60"), 122);
        assert_int_equal(query_int(f, "SELECT count(*) FROM blocks WHERE resolution = 3600"), 1);
        assert_int_equal(query_int(f, "SELECT sum(n) FROM blocks WHERE resolution = 3600"), 2);
        assert_int_equal(query_int(f, "SELECT count(*) FROM recent"), 1);
        assert_int_equal(query_int(f, "SELECT value FROM meta WHERE key = 'rollup_60'"), t + 7320);
        assert_int_equal(query_int(f, "SELECT value FROM meta WHERE key = 'rollup_3600'"), t + 7200);

        sqlite3 *db;
        char err[256];
        assert_int_equal(query_open(db_path(f), &db, err, sizeof(err)), 0);
        Picked minute3 = { .ts = t + 180 }, hour1 = { .ts = t }, hour2 = { .ts = t + 3600 };
        assert_int_equal(query_samples(db, "app", t, t + 7200, 60, pick, &minute3, err, sizeof(err)), 0);
        assert_int_equal(query_samples(db, "app", t, t + 7200, 3600, pick, &hour1, err, sizeof(err)), 0);
        assert_int_equal(query_samples(db, "app", t, t + 7200, 3600, pick, &hour2, err, sizeof(err)), 0);
        sqlite3_close(db);
        /* Minute 3 (t+180..t+239): requests is its last, rps the average, rss the max. */
        assert_int_equal(minute3.r.resolution, 60);
        assert_float_equal(minute3.r.requests, 2390, 1e-9);
        assert_float_equal(minute3.r.rps, 10, 1e-6);
        assert_float_equal(minute3.r.rss, 83886080.0, 1e-9);
        assert_float_equal(minute3.r.busy, 0.5, 1e-9);
        /* The first hour: p99 is its maximum, requests its last, rps its average. */
        assert_int_equal(hour1.r.resolution, 3600);
        assert_float_equal(hour1.r.p99_rt_ms, 900, 1e-9);
        assert_float_equal(hour1.r.requests, 35990, 1e-9);
        assert_float_equal(hour2.r.rps, 10, 1e-6);
        assert_float_equal(hour2.r.avg_rt_ms, 2.5, 1e-9);
}

static void test_retention_keeps_the_file_bounded(void **state) {
        Fixture *f = *state;
        Store *s;
        StoreSample fleet[3] = { sample("a", 1, 0), sample("b", 2, 0), sample("c", 3, 0) };

        f->o.retain_raw = 3600;
        f->o.retain_minutes = 86400;
        f->o.retain_hours = 7 * 86400;
        assert_int_equal(store_new(&f->o, &s), 0);
        assert_int_equal(store_event(s, "a", NULL, "found", NULL), 0);
        /* Ten days of a tick every 20 s (raw rows at 20 s: three per minute). */
        for (int k = 0; k < 10 * 86400 / 20; k++) {
                for (size_t j = 0; j < 3; j++)
                        fleet[j].requests += 100;
                assert_int_equal(store_tick(s, fleet, 3), 0);
                f->now_ms += 20000;
        }
        int64_t now = (int64_t) (f->now_ms / 1000);
        store_free(s);
        /* Each resolution holds its window and no more: a block goes once all of it is past the
         * window (an expiry a minute: a minute of slack more). */
        int64_t oldest = query_int(f, "SELECT min(start) FROM blocks WHERE resolution = 1");
        assert_true(oldest >= now - 3600 - 60 - 60 && oldest <= now - 3600);
        oldest = query_int(f, "SELECT min(start) FROM blocks WHERE resolution = 60");
        assert_true(oldest >= now - 86400 - 3600 - 60 && oldest <= now - 86400);
        oldest = query_int(f, "SELECT min(start) FROM blocks WHERE resolution = 3600");
        assert_true(oldest >= now - 7 * 86400 - 86400 - 60 && oldest <= now - 7 * 86400);
        /* Samples: 3 vassals × (180 raw + 1440 minutes + 168 hours), and up to a block each
         * more. */
        int64_t raw = query_int(f, "SELECT sum(n) FROM blocks WHERE resolution = 1");
        int64_t minutes = query_int(f, "SELECT sum(n) FROM blocks WHERE resolution = 60");
        int64_t hours = query_int(f, "SELECT sum(n) FROM blocks WHERE resolution = 3600");
        assert_true(raw >= 3 * 180 - 6 && raw <= 3 * (180 + 3) + 6);
        assert_true(minutes >= 3 * 1440 - 6 && minutes <= 3 * (1440 + 60) + 6);
        assert_true(hours >= 3 * 168 - 6 && hours <= 3 * (168 + 24) + 6);
        /* Events are kept as long as the hours: the 'found' of ten days ago is gone. */
        assert_int_equal(query_int(f, "SELECT count(*) FROM events WHERE kind = 'found'"), 0);
}

static void test_size_bound_trims_seconds_first(void **state) {
        Fixture *f = *state;
        Store *s;
        StoreSample fleet[20];
        char names[20][16];

        for (int j = 0; j < 20; j++) {
                snprintf(names[j], sizeof(names[j]), "app%d", j);
                fleet[j] = sample(names[j], 100 + j, 0);
        }
        f->o.max_bytes = 1 << 20;
        assert_int_equal(store_new(&f->o, &s), 0);
        /* Two days of a tick every 10 s with every value moving: several MB by retention. */
        for (int k = 0; k < 2 * 86400 / 10; k++) {
                for (int j = 0; j < 20; j++) {
                        fleet[j].requests += (uint64_t) (k * 7 + j * 13) % 97;
                        fleet[j].avg_rt_ms = (double) ((k * 31 + j) % 50) / 3;
                        fleet[j].rss = (uint64_t) (50 + (k + j) % 7) << 20;
                }
                assert_int_equal(store_tick(s, fleet, 20), 0);
                f->now_ms += 10000;
        }
        int64_t now = (int64_t) (f->now_ms / 1000);
        store_free(s);
        /* Within the bound (pages in use: free ones are reused), with a tick's slack. */
        int64_t used = (query_int(f, "PRAGMA page_count") - query_int(f, "PRAGMA freelist_count")) *
                       query_int(f, "PRAGMA page_size");
        assert_true(used <= (1 << 20) + 64 * 1024);
        /* Seconds went first: kept for less than their 24 h, not less than the floor's hour. */
        int64_t raw = query_int(f, "SELECT min(start) FROM blocks WHERE resolution = 1");
        assert_true(raw > now - 86400 + 3600 && raw <= now - 3600);
        /* The minutes of the whole two days are still there. */
        assert_true(query_int(f, "SELECT min(start) FROM blocks WHERE resolution = 60") <=
                    now - 2 * 86400 + 3600);
        assert_int_equal(query_int(f, "SELECT count(*) > 0 FROM events WHERE kind = 'store' AND "
                                      "detail LIKE '%seconds kept%instead of 24h%'"),
                         1);
}

static void test_packing_does_not_starve_rollups_and_expiry(void **state) {
        Fixture *f = *state;
        Store *s;
        StoreSample fleet[150];
        char names[150][16];

        for (int j = 0; j < 150; j++) {
                snprintf(names[j], sizeof(names[j]), "app%d", j);
                fleet[j] = sample(names[j], 100 + j, 0);
        }
        f->o.retain_raw = 3600;
        assert_int_equal(store_new(&f->o, &s), 0);
        /* A tick a minute: every tick starts a packing pass of two steps, so packing alone
         * would take every step there is. */
        for (int k = 0; k < 26 * 60; k++) {
                for (int j = 0; j < 150; j++)
                        fleet[j].requests += 10;
                assert_int_equal(store_tick(s, fleet, 150), 0);
                f->now_ms += 60000;
        }
        int64_t now = (int64_t) (f->now_ms / 1000);
        store_free(s);
        /* Hours rolled up to within an hour or two; seconds expired to their hour. */
        assert_true(query_int(f, "SELECT value FROM meta WHERE key = 'rollup_3600'") >= now - 3 * 3600);
        assert_true(query_int(f, "SELECT min(start) FROM blocks WHERE resolution = 1") >=
                    now - 3600 - 3 * 3600);
        assert_true(query_int(f, "SELECT count(*) FROM blocks WHERE resolution = 3600") == 150 * 2);
}

static void test_locked_database_defers_and_loses_nothing(void **state) {
        Fixture *f = *state;
        Store *s;
        sqlite3 *other;
        StoreSample fleet[2] = { sample("a", 1, 10), sample("b", 2, 20) };

        assert_int_equal(store_new(&f->o, &s), 0);
        assert_int_equal(store_tick(s, fleet, 2), 0);
        /* Someone else takes the write lock (a second writer, a sqlite3 shell). */
        assert_int_equal(sqlite3_open(db_path(f), &other), SQLITE_OK);
        assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        f->now_ms += 1000;
        fleet[0].requests = 11;
        assert_int_equal(store_tick(s, fleet, 2), -EBUSY);
        assert_false(store_healthy(s));
        assert_int_equal(store_pending(s), 2);
        /* Before the retry is due the rows wait without touching the database. */
        f->now_ms += 400;
        assert_int_equal(store_event(s, "a", NULL, "reload", NULL), -EAGAIN);
        /* Due, still locked: the next wait is longer. */
        f->now_ms += 600;
        fleet[0].requests = 12;
        assert_int_equal(store_tick(s, fleet, 2), -EBUSY);
        f->now_ms += 1000;
        fleet[0].requests = 13;
        assert_int_equal(store_tick(s, fleet, 2), -EAGAIN);
        assert_int_equal(store_pending(s), 7);
        assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(other);
        f->now_ms += 1000;
        fleet[0].requests = 14;
        assert_int_equal(store_tick(s, fleet, 2), 0);
        assert_true(store_healthy(s));
        assert_int_equal(store_pending(s), 0);
        store_free(s);
        /* Every tick is there, each with its own values. */
        assert_int_equal(raw_of(f, "a").n + raw_of(f, "b").n, 10);
        assert_float_equal(raw_of(f, "a").sum_requests, 10 + 11 + 12 + 13 + 14, 1e-9);
        assert_int_equal(query_int(f, "SELECT count(*) FROM events WHERE kind = 'reload'"), 1);
}

/* Raw samples stored: the journal's and the packed ones. */
#define RAW_TOTAL                                                                    \
        "SELECT (SELECT count(*) FROM recent) + "                                    \
        "(SELECT coalesce(sum(n), 0) FROM blocks WHERE resolution = 1)"

static void test_full_database_defers_and_recovers(void **state) {
        Fixture *f = *state;
        Store *s;
        StoreSample fleet[40];
        char names[40][16];
        int r = 0, k;

        for (int j = 0; j < 40; j++) {
                snprintf(names[j], sizeof(names[j]), "app%d", j);
                fleet[j] = sample(names[j], 100 + j, 0);
        }
        assert_int_equal(store_new(&f->o, &s), 0);
        assert_int_equal(store_tick(s, fleet, 40), 0);
        /* The disk fills up: no page past the ones the file has now. */
        assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA max_page_count = 12", NULL, NULL, NULL),
                         SQLITE_OK);
        for (k = 0; k < 200 && r == 0; k++) {
                f->now_ms += 1000;
                r = store_tick(s, fleet, 40);
        }
        assert_int_equal(r, -ENOSPC);
        size_t pending = store_pending(s);
        assert_true(pending >= 40);
        int64_t before = query_int(f, RAW_TOTAL);
        /* Space again (retention ran, an admin cleaned up): the waiting rows go in. */
        assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA max_page_count = 1000000", NULL, NULL,
                                      NULL),
                         SQLITE_OK);
        f->now_ms += 60000;
        assert_int_equal(store_tick(s, fleet, 40), 0);
        assert_int_equal(store_pending(s), 0);
        store_free(s);
        assert_int_equal(query_int(f, RAW_TOTAL), before + (int64_t) pending + 40);
}

static void write_garbage(const char *path) {
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        for (int k = 0; k < 4096; k++)
                fputc((k * 7919) & 0xff, fp);
        fclose(fp);
}

static int count_aside(Fixture *f) {
        DIR *d = opendir(f->dir);
        int n = 0;
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                n += strncmp(de->d_name, "stats.db.corrupt-", 17) == 0 &&
                     !strchr(de->d_name + 17, '-');
        closedir(d);
        return n;
}

static void test_corrupt_file_is_moved_aside(void **state) {
        Fixture *f = *state;
        Store *s;
        StoreSample x = sample("app", 10, 5);

        assert_int_equal(store_new(&f->o, &s), 0);
        assert_int_equal(store_tick(s, &x, 1), 0);
        store_free(s);
        write_garbage(db_path(f));

        f->now_ms += 1000;
        assert_int_equal(store_new(&f->o, &s), 0);
        assert_true(store_healthy(s));
        x.requests = 6;
        assert_int_equal(store_tick(s, &x, 1), 0);
        store_free(s);
        assert_int_equal(count_aside(f), 1);
        assert_int_equal(query_int(f, "SELECT count(*) FROM events WHERE kind = 'store' AND "
                                      "vassal_id IS NULL AND detail LIKE '%corrupt%moved to%'"),
                         1);
        assert_int_equal(raw_of(f, "app").n, 1);
        assert_float_equal(raw_of(f, "app").last_requests, 6, 1e-9);
        assert_int_equal(query_int(f, "SELECT count(*) FROM vassals WHERE name = 'app'"), 1);
}

static void test_unusable_state_dir_is_retried(void **state) {
        Fixture *f = *state;
        Store *s;
        char dir[128];
        StoreSample x = sample("app", 10, 5);

        /* A regular file where the state dir should be. */
        snprintf(dir, sizeof(dir), "%s/file", f->dir);
        write_garbage(dir);
        snprintf(dir, sizeof(dir), "%s/file/state", f->dir);
        f->o.state_dir = dir;
        assert_int_equal(store_new(&f->o, &s), 0);
        assert_false(store_healthy(s));
        f->now_ms += 2000;
        assert_true(store_tick(s, &x, 1) < 0);
        assert_true(store_pending(s) >= 1);
        store_free(s);
}

static void test_sample_from_stats(void **state) {
        (void) state;
        StoreSample x = { .name = "app" };
        cJSON *j = cJSON_Parse(
                "{\"listen_queue\":3,\"workers\":["
                "{\"status\":\"busy\",\"rss\":1000,\"avg_rt\":2000,\"respawn_count\":1,\"harakiri_count\":1},"
                "{\"status\":\"idle\",\"rss\":500,\"avg_rt\":0,\"respawn_count\":2}],"
                "\"requests\":42,\"exceptions\":2}");
        assert_true(store_sample_from_stats(j, &x));
        assert_int_equal(x.requests, 42);
        assert_int_equal(x.errors, 2);
        assert_int_equal(x.listen_queue, 3);
        assert_int_equal(x.busy, 1);
        assert_int_equal(x.total, 2);
        assert_int_equal(x.rss, 1500);
        assert_int_equal(x.respawns, 3);
        assert_int_equal(x.harakiris, 1);
        assert_float_equal(x.avg_rt_ms, 2.0, 1e-9);
        assert_true(isnan(x.p99_rt_ms));
        assert_true(isnan(x.cpu));
        assert_string_equal(x.name, "app");
        cJSON_Delete(j);
        j = cJSON_Parse("[1]");
        assert_false(store_sample_from_stats(j, &x));
        cJSON_Delete(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_migrations_from_empty_and_reopen, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migration_from_version_1, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tick_writes_the_fleet_in_one_transaction, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_rps_from_the_requests_delta, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events_are_written_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rollups_raw_minutes_hours, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retention_keeps_the_file_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_size_bound_trims_seconds_first, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_packing_does_not_starve_rollups_and_expiry,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_locked_database_defers_and_loses_nothing, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_full_database_defers_and_recovers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_file_is_moved_aside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unusable_state_dir_is_retried, setup, teardown),
                cmocka_unit_test(test_sample_from_stats),
        };
        return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
