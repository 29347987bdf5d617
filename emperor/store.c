/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "store.h"

/* Durability: WAL with synchronous=NORMAL. A commit is in the -wal file (the kernel's page
 * cache) when COMMIT returns, so a kill -9 of the emperor loses at most the tick whose
 * transaction was in flight; only a power loss may lose the last few commits (never the
 * file's consistency). One transaction per tick also keeps the write cheap: no fsync per
 * row, and a checkpoint only every ~1000 pages. */

/* How long one statement may wait for a lock held by someone else (another writer: a second
 * emperor, a sqlite3 shell) before the tick is deferred. Short: it stalls the event loop. */
#define BUSY_TIMEOUT_MS 50
/* A failed write is retried after 1 s, doubling to a minute. */
#define RETRY_MIN_MS 1000ULL
#define RETRY_MAX_MS 60000ULL
/* One warning per minute at most while the store keeps failing. */
#define LOG_INTERVAL_MS 60000ULL
/* What waits in memory while the database cannot be written: ~100 s of a 1000-vassal fleet.
 * Past it the oldest rows go (the live stats are in the instances anyway). */
#define PENDING_SAMPLES_MAX 100000
#define PENDING_EVENTS_MAX 10000
/* vassals.last_seen is refreshed this often (seconds). */
#define LAST_SEEN_EVERY 60
/* Rollup and retention: a pass over every vassal once a minute, in steps of about this many
 * changed rows (one transaction each, one step per tick), so no tick stalls for long. */
#define MAINT_EVERY_MS 60000ULL
#define MAINT_BUDGET 20000
#define MAINT_IDS 64
/* A bucket is rolled up this long after it ended (a tick may land a little late). */
#define ROLLUP_GRACE 5
/* At most this much history is rolled up per pass (catching up after a long pause). */
#define ROLLUP_SPAN_60 (6 * 3600)
#define ROLLUP_SPAN_3600 (7 * 24 * 3600)
/* Retention deletes at most this many buckets per vassal and resolution per step. */
#define RETAIN_CHUNK 3600
#define EVENTS_CHUNK 1000

#define SCHEMA_VERSION 1

/* Migration N takes user_version N-1 to N. Never edit one that shipped: add the next. */
static const char *const migrations[SCHEMA_VERSION] = {
        "CREATE TABLE vassals(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, ini TEXT,"
        "                     first_seen INTEGER, last_seen INTEGER);"
        "CREATE TABLE events(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, vassal_id INTEGER,"
        "                    kind TEXT NOT NULL, detail TEXT);"
        "CREATE INDEX events_vassal_ts ON events(vassal_id, ts);"
        "CREATE INDEX events_ts ON events(ts);"
        "CREATE TABLE samples(vassal_id INTEGER NOT NULL, ts INTEGER NOT NULL,"
        "                     resolution INTEGER NOT NULL, requests INTEGER, rps REAL,"
        "                     errors INTEGER, avg_rt_ms REAL, p99_rt_ms REAL, rss INTEGER,"
        "                     cpu REAL, busy INTEGER, total INTEGER, listen_queue INTEGER,"
        "                     respawns INTEGER,"
        "                     PRIMARY KEY(vassal_id, resolution, ts)) WITHOUT ROWID;"
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;",
};

typedef enum Stmt {
        ST_BEGIN,
        ST_COMMIT,
        ST_ROLLBACK,
        ST_UPSERT_VASSAL,
        ST_INSERT_EVENT,
        ST_INSERT_SAMPLE,
        ST_VASSAL_IDS,
        ST_ROLLUP,
        ST_MIN_TS,
        ST_DELETE_SAMPLES,
        ST_DELETE_EVENTS,
        ST_META_GET,
        ST_META_SET,
        _ST_MAX,
} Stmt;

static const char *const stmt_sql[_ST_MAX] = {
        [ST_BEGIN] = "BEGIN IMMEDIATE",
        [ST_COMMIT] = "COMMIT",
        [ST_ROLLBACK] = "ROLLBACK",
        [ST_UPSERT_VASSAL] =
                "INSERT INTO vassals(name, ini, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3) "
                "ON CONFLICT(name) DO UPDATE SET last_seen = excluded.last_seen, "
                "ini = coalesce(excluded.ini, vassals.ini) RETURNING id",
        [ST_INSERT_EVENT] = "INSERT INTO events(ts, vassal_id, kind, detail) VALUES (?1, ?2, ?3, ?4)",
        [ST_INSERT_SAMPLE] =
                "INSERT OR REPLACE INTO samples(vassal_id, ts, resolution, requests, rps, errors,"
                " avg_rt_ms, p99_rt_ms, rss, cpu, busy, total, listen_queue, respawns) "
                "VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        [ST_VASSAL_IDS] = "SELECT id FROM vassals WHERE id > ?1 ORDER BY id LIMIT ?2",
        /* ?1 vassal, ?2 source resolution, ?3 target resolution, [?4, ?5) the span. Counters
         * are the bucket's last row (joined back by its key), rates and gauges aggregated. */
        [ST_ROLLUP] =
                "INSERT OR REPLACE INTO samples(vassal_id, ts, resolution, requests, rps, errors,"
                " avg_rt_ms, p99_rt_ms, rss, cpu, busy, total, listen_queue, respawns) "
                "SELECT g.vassal_id, g.bucket, ?3, l.requests, g.rps, l.errors, g.avg_rt_ms,"
                " g.p99, g.rss, g.cpu, g.busy, g.total, g.lq, l.respawns "
                "FROM (SELECT vassal_id, ts / ?3 * ?3 AS bucket, max(ts) AS last_ts,"
                "       avg(rps) AS rps,"
                "       coalesce(sum(avg_rt_ms * rps) / nullif(sum(CASE WHEN avg_rt_ms IS NOT NULL"
                "                THEN rps END), 0), avg(avg_rt_ms)) AS avg_rt_ms,"
                "       max(p99_rt_ms) AS p99, max(rss) AS rss, avg(cpu) AS cpu,"
                "       avg(busy) AS busy, max(total) AS total, max(listen_queue) AS lq"
                "      FROM samples WHERE vassal_id = ?1 AND resolution = ?2"
                "       AND ts >= ?4 AND ts < ?5 GROUP BY bucket) AS g "
                "JOIN samples AS l ON l.vassal_id = g.vassal_id AND l.resolution = ?2"
                " AND l.ts = g.last_ts",
        [ST_MIN_TS] = "SELECT min(ts) FROM samples WHERE vassal_id = ?1 AND resolution = ?2",
        [ST_DELETE_SAMPLES] = "DELETE FROM samples WHERE vassal_id = ?1 AND resolution = ?2 AND ts < ?3",
        [ST_DELETE_EVENTS] =
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ?1 LIMIT ?2)",
        [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
        [ST_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
};

/* What the store remembers of a vassal: its row id in the current database and its previous
 * sample (for the rate and the harakiri/recycle events). Kept for the store's lifetime. */
typedef struct VassalRec {
        char *name;
        char *ini;
        int64_t id;          /* 0: not in this database yet */
        bool id_uncommitted; /* given by the transaction in flight */
        bool ini_dirty;
        int64_t seen_written; /* unix s */
        bool has_prev;
        pid_t prev_pid;
        uint64_t prev_requests, prev_report_usec, prev_respawns, prev_harakiris;
        bool has_rps;
        double prev_rps;
} VassalRec;

typedef struct PendingEvent {
        VassalRec *v; /* NULL: the emperor's or the store's */
        int64_t ts_ms;
        char *kind;
        char *detail;
} PendingEvent;

typedef struct PendingSample {
        VassalRec *v;
        int64_t ts;
        bool has_rps;
        double rps;
        uint64_t requests, errors, rss, listen_queue, respawns;
        double avg_rt_ms, p99_rt_ms, cpu;
        unsigned busy, total;
} PendingSample;

/* A rollup and retention pass over every vassal, done in steps. */
typedef struct Maint {
        bool active;
        bool again; /* it did not catch up: the next pass starts at once */
        uint64_t next_ms;
        int64_t cursor; /* the last vassal id done */
        int64_t from60, to60, from3600, to3600;
        int64_t cut[3]; /* raw, minutes, hours: rows before these go */
} Maint;

struct Store {
        char *state_dir;
        char *path;
        uint64_t (*now)(void *userdata);
        void *userdata;
        uint64_t retain[3]; /* seconds: raw, minutes, hours */

        sqlite3 *db;
        sqlite3_stmt *st[_ST_MAX];

        VassalRec **table; /* open addressing on the name */
        size_t table_size, n_vassals;

        PendingEvent *events;
        size_t n_events, cap_events;
        PendingSample *samples;
        size_t n_samples, cap_samples;
        uint64_t dropped;

        unsigned failures;
        uint64_t retry_at_ms;
        uint64_t last_log_ms;
        int last_log_rc;
        unsigned suppressed;

        Maint maint;
};

static const int resolutions[3] = { 1, 60, 3600 };

static uint64_t clock_now(void *userdata) {
        struct timespec ts;
        (void) userdata;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static uint64_t store_now(const Store *s) {
        return s->now(s->userdata);
}

/* ---- vassals in memory ---- */

static size_t hash_name(const char *name) {
        size_t h = 14695981039346656037ULL; /* FNV-1a */
        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        return h;
}

static int table_grow(Store *s) {
        size_t size = s->table_size ? s->table_size * 2 : 64;
        VassalRec **t = calloc(size, sizeof(VassalRec *));
        if (!t)
                return -ENOMEM;
        for (size_t k = 0; k < s->table_size; k++) {
                VassalRec *v = s->table[k];
                if (!v)
                        continue;
                size_t j = hash_name(v->name) & (size - 1);
                while (t[j])
                        j = (j + 1) & (size - 1);
                t[j] = v;
        }
        free(s->table);
        s->table = t;
        s->table_size = size;
        return 0;
}

/* The record for a name, made on first use; NULL only when out of memory. */
static VassalRec *vassal_get(Store *s, const char *name) {
        if (s->table_size) {
                size_t j = hash_name(name) & (s->table_size - 1);
                for (; s->table[j]; j = (j + 1) & (s->table_size - 1))
                        if (streq(s->table[j]->name, name))
                                return s->table[j];
        }
        if ((s->n_vassals + 1) * 2 > s->table_size && table_grow(s) < 0)
                return NULL;
        VassalRec *v = calloc(1, sizeof(VassalRec));
        if (!v)
                return NULL;
        v->name = strdup(name);
        if (!v->name) {
                free(v);
                return NULL;
        }
        size_t j = hash_name(name) & (s->table_size - 1);
        while (s->table[j])
                j = (j + 1) & (s->table_size - 1);
        s->table[j] = v;
        s->n_vassals++;
        return v;
}

/* gcc 12's -fanalyzer loses the string once it is stored in a record reached through the
 * hash table and calls it leaked; store_free() frees it. */
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static void vassal_set_ini(VassalRec *v, const char *ini) {
        if (!ini || streq_ptr(v->ini, ini))
                return;
        char *copy = strdup(ini);
        if (!copy)
                return;
        free(v->ini);
        v->ini = copy;
        v->ini_dirty = true;
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* A new database: every vassal gets a row again. */
static void vassals_forget_ids(Store *s) {
        for (size_t k = 0; k < s->table_size; k++)
                if (s->table[k]) {
                        s->table[k]->id = 0;
                        s->table[k]->id_uncommitted = false;
                }
}

/* ---- the queues ---- */

static void event_done(PendingEvent *e) {
        free(e->kind);
        free(e->detail);
}

static void queue_drop_oldest(Store *s) {
        if (s->n_samples >= PENDING_SAMPLES_MAX) {
                size_t drop = s->n_samples / 4;
                memmove(s->samples, s->samples + drop, (s->n_samples - drop) * sizeof(PendingSample));
                s->n_samples -= drop;
                s->dropped += drop;
        }
        if (s->n_events >= PENDING_EVENTS_MAX) {
                size_t drop = s->n_events / 4;
                for (size_t k = 0; k < drop; k++)
                        event_done(&s->events[k]);
                memmove(s->events, s->events + drop, (s->n_events - drop) * sizeof(PendingEvent));
                s->n_events -= drop;
                s->dropped += drop;
        }
}

static int queue_event(Store *s, VassalRec *v, const char *kind, const char *detail) {
        queue_drop_oldest(s);
        if (s->n_events == s->cap_events) {
                size_t cap = s->cap_events ? s->cap_events * 2 : 16;
                PendingEvent *a = reallocarray(s->events, cap, sizeof(PendingEvent));
                if (!a)
                        return -ENOMEM;
                s->events = a;
                s->cap_events = cap;
        }
        PendingEvent e = {
                .v = v,
                .ts_ms = (int64_t) store_now(s),
                .kind = strdup(kind),
                .detail = detail ? strdup(detail) : NULL,
        };
        if (!e.kind || (detail && !e.detail)) {
                event_done(&e);
                return -ENOMEM;
        }
        s->events[s->n_events++] = e;
        return 0;
}

static _printf_(4, 5) void queue_eventf(Store *s, VassalRec *v, const char *kind,
                                        const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        (void) queue_event(s, v, kind, buf);
}

static PendingSample *queue_sample(Store *s) {
        queue_drop_oldest(s);
        if (s->n_samples == s->cap_samples) {
                size_t cap = s->cap_samples ? s->cap_samples * 2 : 64;
                PendingSample *a = reallocarray(s->samples, cap, sizeof(PendingSample));
                if (!a)
                        return NULL;
                s->samples = a;
                s->cap_samples = cap;
        }
        PendingSample *p = &s->samples[s->n_samples++];
        *p = (PendingSample) {};
        return p;
}

/* ---- opening, failing, recovering ---- */

static bool rc_corrupt(int rc) {
        return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

static void store_close(Store *s) {
        for (size_t k = 0; k < _ST_MAX; k++) {
                sqlite3_finalize(s->st[k]);
                s->st[k] = NULL;
        }
        if (s->db)
                (void) sqlite3_close_v2(s->db);
        s->db = NULL;
        s->maint.active = false;
}

static void format_ms(uint64_t ms, char *buf, size_t size) {
        if (ms < 60000)
                snprintf(buf, size, "%.0f s", (double) ms / 1000);
        else
                snprintf(buf, size, "%.0f min", (double) ms / 60000);
}

/* A write or an open failed for a reason that may pass (locked, full, I/O, permissions): log
 * (at most once a minute, or when the reason changes) and retry later. Returns -errno. */
static int store_fail(Store *s, int rc, const char *what, const char *msg) {
        uint64_t now = store_now(s);
        uint64_t delay = RETRY_MIN_MS << MIN(s->failures, 6u);
        char when[32];

        s->failures++;
        delay = MIN(delay, RETRY_MAX_MS);
        s->retry_at_ms = now + delay;
        if (s->last_log_ms == 0 || now - s->last_log_ms >= LOG_INTERVAL_MS || rc != s->last_log_rc) {
                format_ms(delay, when, sizeof(when));
                char more[64] = "";
                if (s->suppressed > 0)
                        snprintf(more, sizeof(more), ", %u similar message(s) suppressed",
                                 s->suppressed);
                log_warning("stats store '%s': %s: %s, retrying in %s (%zu rows kept in "
                            "memory%s)",
                            s->path, what, msg, when, s->n_samples + s->n_events, more);
                s->last_log_ms = now;
                s->last_log_rc = rc;
                s->suppressed = 0;
        } else
                s->suppressed++;
        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        default:
                return -EIO;
        }
}

static int store_fail_db(Store *s, int rc, const char *what) {
        const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", msg);
        return store_fail(s, rc, what, copy);
}

/* The database is damaged: move it (and its -wal and -shm) aside for a post-mortem, and start
 * over with an empty one. The rows waiting in memory go to the new one. */
static void store_move_aside(Store *s, int rc, const char *what) {
        uint64_t now = store_now(s);
        char why[256], aside[4200];

        snprintf(why, sizeof(why), "%s: %s", what,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        store_close(s);
        snprintf(aside, sizeof(aside), "%s.corrupt-%llu", s->path,
                 (unsigned long long) (now / 1000));
        static const char *const suffixes[] = { "", "-wal", "-shm" };
        for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
                char from[4200], to[4300];
                snprintf(from, sizeof(from), "%s%s", s->path, suffixes[k]);
                snprintf(to, sizeof(to), "%s%s", aside, suffixes[k]);
                if (rename(from, to) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Cannot move '%s' aside: %m", from);
        }
        log_error("stats store '%s' is corrupt (%s): moved to '%s', starting a new one", s->path,
                  why, aside);
        vassals_forget_ids(s);
        queue_eventf(s, NULL, "store", "%s was corrupt (%s): moved to %s, started a new one",
                     s->path, why, aside);
}

static int mkdir_p(const char *path) {
        char buf[4096];
        if (snprintf(buf, sizeof(buf), "%s", path) >= (int) sizeof(buf))
                return -ENAMETOOLONG;
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int step_done(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        (void) sqlite3_reset(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Migrations from the file's user_version to ours, each in its own transaction. */
static int store_migrate(Store *s, const char **ret_what) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        int version = 0;

        *ret_what = "reading the schema version";
        if (rc != SQLITE_OK)
                return rc;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
                return rc;
        if (version > SCHEMA_VERSION) {
                *ret_what = "schema version newer than this emperor's, not touching it";
                return SQLITE_CANTOPEN;
        }
        for (int v = version; v < SCHEMA_VERSION; v++) {
                char sql[64];
                *ret_what = "migrating the schema";
                rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
                if (rc != SQLITE_OK)
                        return rc;
                snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
                rc = sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL);
                if (rc == SQLITE_OK)
                        rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
                if (rc == SQLITE_OK)
                        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
                if (rc != SQLITE_OK) {
                        if (!sqlite3_get_autocommit(s->db))
                                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                        return rc;
                }
                log_info("stats store '%s': schema version %d", s->path, v + 1);
        }
        return SQLITE_OK;
}

static int meta_get(Store *s, const char *key, int64_t *ret) {
        sqlite3_stmt *st = s->st[ST_META_GET];
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
                *ret = -1;
                rc = SQLITE_OK;
        }
        (void) sqlite3_reset(st);
        return rc;
}

static int meta_set(Store *s, const char *key, int64_t value) {
        sqlite3_stmt *st = s->st[ST_META_SET];
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, value);
        return step_done(st);
}

/* The rollup watermarks of a new database: nothing before its first hour to roll up. */
static int store_init_meta(Store *s) {
        int64_t start = (int64_t) (store_now(s) / 1000) / 3600 * 3600, v;
        static const char *const keys[] = { "rollup_60", "rollup_3600" };
        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                int rc = meta_get(s, keys[k], &v);
                if (rc == SQLITE_OK && v < 0)
                        rc = meta_set(s, keys[k], start);
                if (rc != SQLITE_OK)
                        return rc;
        }
        return SQLITE_OK;
}

/* Opens (creating, migrating) the database and prepares every statement. Returns an SQLite
 * code; on failure the store is closed and *ret_what says what failed. */
static int store_open_once(Store *s, const char **ret_what) {
        int rc;

        *ret_what = "opening";
        rc = sqlite3_open_v2(s->path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK)
                return rc;
        (void) sqlite3_extended_result_codes(s->db, 1);
        (void) sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
        /* journal_mode is the first statement to read the file: a file that is not a database
         * fails here with SQLITE_NOTADB. */
        *ret_what = "setting WAL mode";
        rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
                *ret_what = "setting the pragmas";
                rc = sqlite3_exec(s->db,
                                  "PRAGMA synchronous = NORMAL;"
                                  "PRAGMA journal_size_limit = 67108864;"
                                  /* 256 KiB of page cache, not SQLite's 2 MiB: a tick
                                   * touches a few pages, and the emperor stays small. */
                                  "PRAGMA cache_size = -256;",
                                  NULL, NULL, NULL);
        }
        if (rc == SQLITE_OK)
                rc = store_migrate(s, ret_what);
        for (size_t k = 0; rc == SQLITE_OK && k < _ST_MAX; k++) {
                *ret_what = "preparing the statements";
                rc = sqlite3_prepare_v3(s->db, stmt_sql[k], -1, SQLITE_PREPARE_PERSISTENT,
                                        &s->st[k], NULL);
        }
        if (rc == SQLITE_OK) {
                *ret_what = "reading the rollup state";
                rc = store_init_meta(s);
        }
        return rc;
}

static int store_open(Store *s) {
        const char *what = "opening";
        int r = mkdir_p(s->state_dir);
        if (r < 0) {
                char msg[128];
                snprintf(msg, sizeof(msg), "cannot make the state dir: %s", strerror(-r));
                return store_fail(s, SQLITE_CANTOPEN, "opening", msg);
        }
        for (int attempt = 0; attempt < 2; attempt++) {
                int rc = store_open_once(s, &what);
                if (rc == SQLITE_OK) {
                        log_debug("stats store '%s' open", s->path);
                        return 0;
                }
                if (!rc_corrupt(rc) || attempt > 0) {
                        r = store_fail_db(s, rc, what);
                        store_close(s);
                        return r;
                }
                store_move_aside(s, rc, what);
        }
        return -EIO;
}

/* ---- writing ---- */

static void bind_u64(sqlite3_stmt *st, int k, uint64_t v) {
        sqlite3_bind_int64(st, k, v > INT64_MAX ? INT64_MAX : (int64_t) v);
}

static void bind_real(sqlite3_stmt *st, int k, double v) {
        if (isfinite(v))
                sqlite3_bind_double(st, k, v);
        else
                sqlite3_bind_null(st, k);
}

/* Gives the vassal its row (first use in this database, a new ini, a stale last_seen). */
static int vassal_ensure_row(Store *s, VassalRec *v, int64_t now_s) {
        if (!v || (v->id > 0 && !v->ini_dirty && now_s - v->seen_written < LAST_SEEN_EVERY))
                return SQLITE_OK;
        sqlite3_stmt *st = s->st[ST_UPSERT_VASSAL];
        sqlite3_bind_text(st, 1, v->name, -1, SQLITE_STATIC);
        if (v->ini)
                sqlite3_bind_text(st, 2, v->ini, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 2);
        sqlite3_bind_int64(st, 3, now_s);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(st, 0);
                if (v->id != id) {
                        v->id = id;
                        v->id_uncommitted = true;
                }
                v->seen_written = now_s;
                v->ini_dirty = false;
                rc = sqlite3_step(st);
        }
        (void) sqlite3_reset(st);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void bind_vassal(sqlite3_stmt *st, int k, const VassalRec *v) {
        if (v)
                sqlite3_bind_int64(st, k, v->id);
        else
                sqlite3_bind_null(st, k);
}

static int write_event(Store *s, const PendingEvent *e, int64_t now_s) {
        int rc = vassal_ensure_row(s, e->v, now_s);
        if (rc != SQLITE_OK)
                return rc;
        sqlite3_stmt *st = s->st[ST_INSERT_EVENT];
        sqlite3_bind_int64(st, 1, e->ts_ms);
        bind_vassal(st, 2, e->v);
        sqlite3_bind_text(st, 3, e->kind, -1, SQLITE_STATIC);
        if (e->detail)
                sqlite3_bind_text(st, 4, e->detail, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 4);
        return step_done(st);
}

static int write_sample(Store *s, const PendingSample *p, int64_t now_s) {
        int rc = vassal_ensure_row(s, p->v, now_s);
        if (rc != SQLITE_OK)
                return rc;
        sqlite3_stmt *st = s->st[ST_INSERT_SAMPLE];
        bind_vassal(st, 1, p->v);
        sqlite3_bind_int64(st, 2, p->ts);
        bind_u64(st, 3, p->requests);
        bind_real(st, 4, p->has_rps ? p->rps : NAN);
        bind_u64(st, 5, p->errors);
        bind_real(st, 6, p->avg_rt_ms);
        bind_real(st, 7, p->p99_rt_ms);
        bind_u64(st, 8, p->rss);
        bind_real(st, 9, p->cpu);
        sqlite3_bind_int64(st, 10, p->busy);
        sqlite3_bind_int64(st, 11, p->total);
        bind_u64(st, 12, p->listen_queue);
        bind_u64(st, 13, p->respawns);
        return step_done(st);
}

/* Ids handed out by a transaction are real once it committed, and forgotten if it did not. */
static void vassals_settle_ids(Store *s, bool committed) {
        for (size_t k = 0; k < s->table_size; k++) {
                VassalRec *v = s->table[k];
                if (!v || !v->id_uncommitted)
                        continue;
                v->id_uncommitted = false;
                if (!committed)
                        v->id = 0;
        }
}

static int store_rollback(Store *s, int rc) {
        if (s->db && !sqlite3_get_autocommit(s->db))
                (void) step_done(s->st[ST_ROLLBACK]);
        vassals_settle_ids(s, false);
        return rc;
}

/* Everything waiting, in one transaction. */
static int store_write(Store *s) {
        int64_t now_s = (int64_t) (store_now(s) / 1000);
        int rc = step_done(s->st[ST_BEGIN]);
        if (rc != SQLITE_OK)
                return rc;
        for (size_t k = 0; k < s->n_events; k++)
                if ((rc = write_event(s, &s->events[k], now_s)) != SQLITE_OK)
                        return store_rollback(s, rc);
        for (size_t k = 0; k < s->n_samples; k++)
                if ((rc = write_sample(s, &s->samples[k], now_s)) != SQLITE_OK)
                        return store_rollback(s, rc);
        rc = step_done(s->st[ST_COMMIT]);
        if (rc != SQLITE_OK)
                return store_rollback(s, rc);
        vassals_settle_ids(s, true);
        for (size_t k = 0; k < s->n_events; k++)
                event_done(&s->events[k]);
        s->n_events = 0;
        s->n_samples = 0;
        return SQLITE_OK;
}

static void store_recovered(Store *s) {
        if (s->failures == 0)
                return;
        log_notice("stats store '%s': writing again after %u failed attempt(s)%s", s->path,
                   s->failures, s->dropped ? ", some rows were dropped" : "");
        if (s->dropped)
                queue_eventf(s, NULL, "store", "%llu rows were dropped while the database "
                             "could not be written", (unsigned long long) s->dropped);
        s->failures = 0;
        s->retry_at_ms = 0;
        s->dropped = 0;
        s->last_log_ms = 0;
        s->suppressed = 0;
}

/* Writes what waits, unless a retry is not due yet. Returns 0, -EAGAIN (deferred) or -errno
 * (failed: kept and retried). */
static int store_flush(Store *s) {
        if (s->failures > 0 && store_now(s) < s->retry_at_ms)
                return -EAGAIN;
        for (int attempt = 0; attempt < 2; attempt++) {
                if (!s->db) {
                        int r = store_open(s);
                        if (r < 0)
                                return r;
                }
                int rc = store_write(s);
                if (rc == SQLITE_OK) {
                        store_recovered(s);
                        /* The "store" event store_recovered() may have queued: now, or with
                         * the next write. */
                        if (s->n_events > 0)
                                (void) store_write(s);
                        return 0;
                }
                if (!rc_corrupt(rc))
                        return store_fail_db(s, rc, "writing");
                store_move_aside(s, rc, "writing");
        }
        return -EIO;
}

/* ---- rollup and retention ---- */

static int maint_vassal(Store *s, int64_t id, int *work) {
        Maint *m = &s->maint;
        int rc = SQLITE_OK;
        const int64_t spans[2][4] = {
                { 1, 60, m->from60, m->to60 },
                { 60, 3600, m->from3600, m->to3600 },
        };

        for (size_t k = 0; k < 2 && rc == SQLITE_OK; k++) {
                if (spans[k][3] <= spans[k][2])
                        continue;
                sqlite3_stmt *st = s->st[ST_ROLLUP];
                sqlite3_bind_int64(st, 1, id);
                sqlite3_bind_int64(st, 2, spans[k][0]);
                sqlite3_bind_int64(st, 3, spans[k][1]);
                sqlite3_bind_int64(st, 4, spans[k][2]);
                sqlite3_bind_int64(st, 5, spans[k][3]);
                rc = step_done(st);
                *work += sqlite3_changes(s->db);
        }
        for (size_t k = 0; k < 3 && rc == SQLITE_OK; k++) {
                sqlite3_stmt *st = s->st[ST_MIN_TS];
                sqlite3_bind_int64(st, 1, id);
                sqlite3_bind_int64(st, 2, resolutions[k]);
                rc = sqlite3_step(st);
                bool any = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
                int64_t oldest = any ? sqlite3_column_int64(st, 0) : 0;
                (void) sqlite3_reset(st);
                if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                        break;
                rc = SQLITE_OK;
                if (!any || oldest >= m->cut[k])
                        continue;
                int64_t until = oldest + (int64_t) RETAIN_CHUNK * resolutions[k];
                if (until < m->cut[k])
                        m->again = true;
                st = s->st[ST_DELETE_SAMPLES];
                sqlite3_bind_int64(st, 1, id);
                sqlite3_bind_int64(st, 2, resolutions[k]);
                sqlite3_bind_int64(st, 3, MIN(until, m->cut[k]));
                rc = step_done(st);
                *work += sqlite3_changes(s->db);
        }
        return rc;
}

static int maint_begin_pass(Store *s, uint64_t now_ms) {
        Maint *m = &s->maint;
        int64_t now_s = (int64_t) (now_ms / 1000);
        int rc = meta_get(s, "rollup_60", &m->from60);
        if (rc == SQLITE_OK)
                rc = meta_get(s, "rollup_3600", &m->from3600);
        if (rc != SQLITE_OK)
                return rc;
        m->from60 = MAX(m->from60, 0);
        m->from3600 = MAX(m->from3600, 0);
        m->again = false;
        m->to60 = (now_s - ROLLUP_GRACE) / 60 * 60;
        if (m->to60 - m->from60 > ROLLUP_SPAN_60) {
                m->to60 = m->from60 + ROLLUP_SPAN_60;
                m->again = true;
        }
        m->to60 = MAX(m->to60, m->from60);
        /* Hours from minutes that are rolled up by the end of this pass. */
        m->to3600 = m->to60 / 3600 * 3600;
        if (m->to3600 - m->from3600 > ROLLUP_SPAN_3600) {
                m->to3600 = m->from3600 + ROLLUP_SPAN_3600;
                m->again = true;
        }
        m->to3600 = MAX(m->to3600, m->from3600);
        for (size_t k = 0; k < 3; k++)
                m->cut[k] = now_s - (int64_t) s->retain[k];
        m->cursor = 0;
        m->active = true;
        m->next_ms = now_ms + MAINT_EVERY_MS;
        return SQLITE_OK;
}

/* One step: vassals after the cursor until the budget is spent, in one transaction; the pass's
 * last step moves the watermarks and trims the events. */
static int maint_step(Store *s, bool *ret_done) {
        Maint *m = &s->maint;
        int64_t ids[MAINT_IDS], cursor = m->cursor;
        size_t n = 0;
        int work = 0, rc;

        *ret_done = false;
        rc = step_done(s->st[ST_BEGIN]);
        if (rc != SQLITE_OK)
                return rc;
        sqlite3_stmt *st = s->st[ST_VASSAL_IDS];
        while (work < MAINT_BUDGET) {
                sqlite3_bind_int64(st, 1, cursor);
                sqlite3_bind_int64(st, 2, MAINT_IDS);
                n = 0;
                while (n < MAINT_IDS && (rc = sqlite3_step(st)) == SQLITE_ROW)
                        ids[n++] = sqlite3_column_int64(st, 0);
                if (n == MAINT_IDS)
                        rc = SQLITE_DONE;
                (void) sqlite3_reset(st);
                if (rc != SQLITE_DONE)
                        return store_rollback(s, rc);
                for (size_t k = 0; k < n && work < MAINT_BUDGET; k++) {
                        rc = maint_vassal(s, ids[k], &work);
                        if (rc != SQLITE_OK)
                                return store_rollback(s, rc);
                        cursor = ids[k];
                }
                if (n < MAINT_IDS && (n == 0 || cursor == ids[n - 1])) {
                        *ret_done = true;
                        break;
                }
        }
        if (*ret_done) {
                rc = meta_set(s, "rollup_60", m->to60);
                if (rc == SQLITE_OK)
                        rc = meta_set(s, "rollup_3600", m->to3600);
                if (rc == SQLITE_OK) {
                        st = s->st[ST_DELETE_EVENTS];
                        sqlite3_bind_int64(st, 1, m->cut[2] * 1000);
                        sqlite3_bind_int64(st, 2, EVENTS_CHUNK);
                        rc = step_done(st);
                        if (sqlite3_changes(s->db) >= EVENTS_CHUNK)
                                m->again = true;
                }
                if (rc != SQLITE_OK)
                        return store_rollback(s, rc);
        }
        rc = step_done(s->st[ST_COMMIT]);
        if (rc != SQLITE_OK)
                return store_rollback(s, rc);
        m->cursor = cursor;
        return SQLITE_OK;
}

/* A step of rollup and retention when one is due. */
static void store_maintain(Store *s) {
        Maint *m = &s->maint;
        uint64_t now = store_now(s);
        bool done;
        int rc;

        if (!s->db || s->failures > 0 || s->n_events + s->n_samples > 0)
                return;
        if (!m->active) {
                if (now < m->next_ms)
                        return;
                rc = maint_begin_pass(s, now);
                if (rc != SQLITE_OK)
                        goto fail;
        }
        rc = maint_step(s, &done);
        if (rc != SQLITE_OK)
                goto fail;
        if (done) {
                m->active = false;
                if (m->again)
                        m->next_ms = now; /* behind: the next pass with the next tick */
        }
        return;
fail:
        if (rc_corrupt(rc))
                store_move_aside(s, rc, "rollup");
        else
                (void) store_fail_db(s, rc, "rollup");
}

/* ---- the API ---- */

int store_new(const StoreOptions *o, Store **ret) {
        Store *s = calloc(1, sizeof(Store));
        if (!s)
                return -ENOMEM;
        s->now = o->now ? o->now : clock_now;
        s->userdata = o->userdata;
        s->retain[0] = o->retain_raw ? o->retain_raw : STORE_RETAIN_RAW_DEFAULT;
        s->retain[1] = o->retain_minutes ? o->retain_minutes : STORE_RETAIN_MINUTES_DEFAULT;
        s->retain[2] = o->retain_hours ? o->retain_hours : STORE_RETAIN_HOURS_DEFAULT;
        s->state_dir = strdup(o->state_dir);
        if (!s->state_dir || asprintf(&s->path, "%s/stats.db", o->state_dir) < 0) {
                s->path = NULL;
                store_free(s);
                return -ENOMEM;
        }
        /* A database that cannot be opened now is logged and retried by the next write. */
        (void) store_open(s);
        *ret = s;
        return 0;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        if (s->db && s->n_events + s->n_samples > 0) {
                s->failures = 0; /* a last attempt, now */
                (void) store_flush(s);
        }
        store_close(s);
        for (size_t k = 0; k < s->table_size; k++)
                if (s->table[k]) {
                        free(s->table[k]->name);
                        free(s->table[k]->ini);
                        free(s->table[k]);
                }
        free(s->table);
        for (size_t k = 0; k < s->n_events; k++)
                event_done(&s->events[k]);
        free(s->events);
        free(s->samples);
        free(s->state_dir);
        free(s->path);
        free(s);
        return NULL;
}

int store_event(Store *s, const char *vassal, const char *ini, const char *kind,
                const char *detail) {
        VassalRec *v = NULL;
        if (!s)
                return 0;
        if (vassal) {
                v = vassal_get(s, vassal);
                if (!v)
                        return -ENOMEM;
                vassal_set_ini(v, ini);
        }
        int r = queue_event(s, v, kind, detail);
        if (r < 0)
                return r;
        return store_flush(s);
}

/* The rate, and the harakiri and recycle events, from the vassal's previous sample. */
static void sample_derive(Store *s, VassalRec *v, const StoreSample *in, uint64_t now_ms,
                          PendingSample *out) {
        uint64_t report = in->report_usec ? in->report_usec : now_ms * 1000;
        bool same = v->has_prev && v->prev_pid == in->pid && in->requests >= v->prev_requests;

        out->has_rps = false;
        if (same && report > v->prev_report_usec) {
                out->rps = (double) (in->requests - v->prev_requests) * 1e6 /
                           (double) (report - v->prev_report_usec);
                out->has_rps = true;
        } else if (same) {
                /* The same report as last tick: the rate it gave then. */
                out->rps = v->prev_rps;
                out->has_rps = v->has_rps;
        }
        if (same && in->harakiris > v->prev_harakiris)
                queue_eventf(s, v, "harakiri", "%llu worker(s) killed for a stuck request",
                             (unsigned long long) (in->harakiris - v->prev_harakiris));
        if (same && in->respawns > v->prev_respawns) {
                uint64_t n = in->respawns - v->prev_respawns;
                uint64_t h = in->harakiris > v->prev_harakiris ? in->harakiris - v->prev_harakiris : 0;
                if (n > h)
                        queue_eventf(s, v, "recycle", "%llu worker(s) respawned",
                                     (unsigned long long) (n - h));
        }
        if (!same || report != v->prev_report_usec) {
                v->has_prev = true;
                v->prev_pid = in->pid;
                v->prev_requests = in->requests;
                v->prev_report_usec = report;
                v->has_rps = out->has_rps;
                v->prev_rps = out->rps;
        }
        v->prev_respawns = in->respawns;
        v->prev_harakiris = in->harakiris;
}

int store_tick(Store *s, const StoreSample *samples, size_t n) {
        uint64_t now_ms = store_now(s);
        int r;

        for (size_t k = 0; k < n; k++) {
                const StoreSample *in = &samples[k];
                VassalRec *v = vassal_get(s, in->name);
                if (!v)
                        return -ENOMEM;
                vassal_set_ini(v, in->ini);
                PendingSample *p = queue_sample(s);
                if (!p)
                        return -ENOMEM;
                p->v = v;
                p->ts = (int64_t) (now_ms / 1000);
                sample_derive(s, v, in, now_ms, p);
                p->requests = in->requests;
                p->errors = in->errors;
                p->avg_rt_ms = in->avg_rt_ms;
                p->p99_rt_ms = in->p99_rt_ms;
                p->rss = in->rss;
                p->cpu = in->cpu;
                p->busy = in->busy;
                p->total = in->total;
                p->listen_queue = in->listen_queue;
                p->respawns = in->respawns;
        }
        r = store_flush(s);
        if (r >= 0)
                store_maintain(s);
        return r;
}

int store_parse_duration(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        uint64_t mult = 1;

        if (errno || end == s || *s == '-')
                return -EINVAL;
        if (streq(end, "") || streq(end, "s"))
                mult = 1;
        else if (streq(end, "m"))
                mult = 60;
        else if (streq(end, "h"))
                mult = 3600;
        else if (streq(end, "d"))
                mult = 86400;
        else
                return -EINVAL;
        if (v == 0 || v > UINT64_MAX / mult / 1000)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

size_t store_pending(const Store *s) {
        return s->n_events + s->n_samples;
}

bool store_healthy(const Store *s) {
        return s->db && s->failures == 0;
}

const char *store_path(const Store *s) {
        return s->path;
}

struct sqlite3 *store_db(Store *s) {
        return s->db;
}
