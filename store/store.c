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

#include "block.h"
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
/* Packing and rollups run in steps of this many vassals, one step (one transaction) a tick:
 * about 10 ms of the loop for a busy fleet (bench/store.sh), 10 ticks for 1000 vassals. */
#define MAINT_IDS 100
/* Rows of events deleted at most per step. */
#define EVENTS_CHUNK 1000
/* Expired blocks are deleted at most this often. */
#define EXPIRE_EVERY_S 60
/* Blocks deleted at most per resolution and step. */
#define EXPIRE_CHUNK 5000

#define SCHEMA_VERSION 2

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
        /* 2: packed blocks instead of a row a sample (60 bytes each: 6 GB for a 1000-vassal
         * fleet's default retention), and the journal of the minute being filled. Version 1
         * never left development: its samples are dropped, not converted. */
        "DROP TABLE samples;"
        "CREATE TABLE blocks(vassal_id INTEGER NOT NULL, resolution INTEGER NOT NULL,"
        "                    start INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,"
        "                    PRIMARY KEY(vassal_id, resolution, start)) WITHOUT ROWID;"
        "CREATE INDEX blocks_age ON blocks(resolution, start);"
        "CREATE TABLE recent(ts INTEGER NOT NULL, vassal_id INTEGER NOT NULL, requests INTEGER,"
        "                    errors INTEGER, rps INTEGER, avg_rt INTEGER, p99_rt INTEGER,"
        "                    rss INTEGER, cpu INTEGER, busy INTEGER, total INTEGER,"
        "                    listen_queue INTEGER, respawns INTEGER,"
        "                    PRIMARY KEY(ts, vassal_id)) WITHOUT ROWID;"
        "DELETE FROM meta WHERE key IN ('rollup_60', 'rollup_3600');",
};

typedef enum Stmt {
        ST_BEGIN,
        ST_COMMIT,
        ST_ROLLBACK,
        ST_UPSERT_VASSAL,
        ST_INSERT_EVENT,
        ST_INSERT_RECENT,
        ST_VASSAL_IDS,
        ST_RECENT_READ,
        ST_RECENT_DELETE,
        ST_BLOCK_GET,
        ST_BLOCK_PUT,
        ST_BLOCKS_AT,
        ST_BLOCKS_EXPIRE,
        ST_DELETE_EVENTS,
        ST_META_GET,
        ST_META_SET,
        ST_OLDEST,
        ST_PAGES,
        ST_FREE_PAGES,
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
        [ST_INSERT_RECENT] =
                "INSERT OR REPLACE INTO recent(ts, vassal_id, requests, errors, rps, avg_rt,"
                " p99_rt, rss, cpu, busy, total, listen_queue, respawns) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        [ST_VASSAL_IDS] = "SELECT id FROM vassals WHERE id > ?1 ORDER BY id LIMIT ?2",
        /* The journal's rows before ?1 of the vassals in (?2, ?3], a vassal at a time. t is the
         * seconds the journal holds, found by a seek each: the key is time first, so a seek per
         * second reads the chunk's rows and not every vassal's. */
        [ST_RECENT_READ] =
                "WITH RECURSIVE t(x) AS (SELECT min(ts) FROM recent WHERE ts < ?1 UNION ALL"
                " SELECT (SELECT min(ts) FROM recent WHERE ts > t.x AND ts < ?1) FROM t"
                " WHERE t.x IS NOT NULL)"
                " SELECT vassal_id, ts, requests, errors, rps, avg_rt, p99_rt, rss, cpu, busy,"
                " total, listen_queue, respawns FROM recent"
                " WHERE ts IN t AND vassal_id > ?2 AND vassal_id <= ?3 ORDER BY vassal_id, ts",
        [ST_RECENT_DELETE] =
                "WITH RECURSIVE t(x) AS (SELECT min(ts) FROM recent WHERE ts < ?1 UNION ALL"
                " SELECT (SELECT min(ts) FROM recent WHERE ts > t.x AND ts < ?1) FROM t"
                " WHERE t.x IS NOT NULL)"
                " DELETE FROM recent WHERE ts IN t AND vassal_id > ?2 AND vassal_id <= ?3",
        [ST_BLOCK_GET] = "SELECT data FROM blocks WHERE vassal_id = ?1 AND resolution = ?2 AND start = ?3",
        [ST_BLOCK_PUT] = "INSERT OR REPLACE INTO blocks(vassal_id, resolution, start, n, data)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)",
        [ST_BLOCKS_AT] = "SELECT vassal_id, data FROM blocks WHERE resolution = ?1 AND start = ?2"
                         " AND vassal_id > ?3 ORDER BY vassal_id LIMIT ?4",
        [ST_BLOCKS_EXPIRE] =
                "DELETE FROM blocks WHERE (resolution, start, vassal_id) IN (SELECT resolution,"
                " start, vassal_id FROM blocks WHERE resolution = ?1 AND start < ?2 LIMIT ?3)",
        [ST_DELETE_EVENTS] =
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ?1 LIMIT ?2)",
        [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
        [ST_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
        [ST_OLDEST] = "SELECT min(start) FROM blocks WHERE resolution = ?1",
        [ST_PAGES] = "PRAGMA page_count",
        [ST_FREE_PAGES] = "PRAGMA freelist_count",
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
        uint64_t prev_requests, prev_report_usec;
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

/* The work that runs between ticks, a step at a time: packing the journal's closed minutes
 * into blocks (and their minute rollups), rolling a closed hour up, expiring old blocks. */
typedef enum MaintKind { MAINT_NONE, MAINT_PACK, MAINT_HOUR, MAINT_EXPIRE, _MAINT_MAX } MaintKind;

typedef struct Maint {
        MaintKind kind;
        MaintKind last; /* the kind that ran last: the others go first, so none starves */
        int64_t until;  /* MAINT_PACK: journal rows before this; MAINT_HOUR: the hour */
        int64_t cursor; /* the last vassal id done */
        int64_t expired_at; /* unix s of the last expiry */
} Maint;

struct Store {
        char *state_dir;
        char *path;
        uint64_t (*now)(void *userdata);
        void *userdata;
        uint64_t retain[3]; /* seconds: raw, minutes, hours */
        uint64_t max_bytes;
        int64_t page_size;
        int64_t budget_logged_at; /* unix s */

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
        /* Scratch for packing: a vassal's journal rows, a block read and merged, its bytes. */
        BlockSample rows[BLOCK_MAX_SAMPLES];
        BlockSample merge_old[BLOCK_MAX_SAMPLES];
        BlockSample merge_out[BLOCK_MAX_SAMPLES];
        uint8_t blob[BLOCK_MAX_BYTES(BLOCK_MAX_SAMPLES)];
};

static const int resolutions[3] = { 1, 60, 3600 };
/* What a block of each resolution spans: a minute of seconds, an hour of minutes, a day of
 * hours. */
static const int64_t block_spans[3] = { 60, 3600, 86400 };

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
        s->maint.kind = MAINT_NONE;
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

/* The watermarks of a new database: nothing before its first minute to pack, nor before its
 * first hour to roll up. rollup_60: journal rows before it are packed, and their minutes
 * rolled up; rollup_3600: the hours before it are rolled up. */
static int store_init_meta(Store *s) {
        int64_t now = (int64_t) (store_now(s) / 1000), v;
        static const char *const keys[] = { "rollup_60", "rollup_3600" };
        const int64_t starts[] = { now / 60 * 60, now / 3600 * 3600 };
        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                int rc = meta_get(s, keys[k], &v);
                if (rc == SQLITE_OK && v < 0)
                        rc = meta_set(s, keys[k], starts[k]);
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
        if (rc == SQLITE_OK) {
                sqlite3_stmt *st = NULL;
                *ret_what = "reading the page size";
                rc = sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL);
                if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                        s->page_size = sqlite3_column_int64(st, 0);
                        rc = SQLITE_OK;
                }
                sqlite3_finalize(st);
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

/* A pending sample in the blocks' integer units. */
static BlockSample sample_to_block(const PendingSample *p) {
        BlockSample b = { .ts = p->ts };
        b.f[BF_REQUESTS] = block_value((double) p->requests, 1);
        b.f[BF_ERRORS] = block_value((double) p->errors, 1);
        b.f[BF_RPS] = block_value(p->has_rps ? p->rps : NAN, BLOCK_SCALE_RPS);
        b.f[BF_AVG_RT] = block_value(p->avg_rt_ms, BLOCK_SCALE_RT);
        b.f[BF_P99_RT] = block_value(p->p99_rt_ms, BLOCK_SCALE_RT);
        b.f[BF_RSS] = block_value((double) p->rss, BLOCK_SCALE_RSS);
        b.f[BF_CPU] = block_value(p->cpu, BLOCK_SCALE_CPU);
        b.f[BF_BUSY] = block_value(p->busy, BLOCK_SCALE_BUSY);
        b.f[BF_TOTAL] = block_value(p->total, 1);
        b.f[BF_LISTEN_QUEUE] = block_value((double) p->listen_queue, 1);
        b.f[BF_RESPAWNS] = block_value((double) p->respawns, 1);
        return b;
}

static void bind_value(sqlite3_stmt *st, int k, int64_t v) {
        if (v == BLOCK_NULL)
                sqlite3_bind_null(st, k);
        else
                sqlite3_bind_int64(st, k, v);
}

/* A sample goes to the journal; the minute's pass packs it into a block. */
static int write_sample(Store *s, const PendingSample *p, int64_t now_s) {
        int rc = vassal_ensure_row(s, p->v, now_s);
        if (rc != SQLITE_OK)
                return rc;
        BlockSample b = sample_to_block(p);
        sqlite3_stmt *st = s->st[ST_INSERT_RECENT];
        sqlite3_bind_int64(st, 1, b.ts);
        bind_vassal(st, 2, p->v);
        for (int f = 0; f < BLOCK_FIELDS; f++)
                bind_value(st, 3 + f, b.f[f]);
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

/* ---- packing, rollups and retention ---- */

static void fmax64(int64_t *into, int64_t v) {
        if (v != BLOCK_NULL && (*into == BLOCK_NULL || v > *into))
                *into = v;
}

static int64_t mean64(double sum, double n) {
        return n > 0 ? (int64_t) llround(sum / n) : BLOCK_NULL;
}

/* Samples of one resolution, oldest first, as one sample of the bucket starting at bucket:
 * counters are the last, rates and gauges averaged (response time weighted by the rate),
 * peaks the maximum. */
static BlockSample rollup(const BlockSample *in, size_t n, int64_t bucket) {
        BlockSample o = { .ts = bucket };
        double rps = 0, rps_n = 0, rt = 0, rt_w = 0, rt_plain = 0, rt_n = 0;
        double cpu = 0, cpu_n = 0, busy = 0, busy_n = 0;

        for (int f = 0; f < BLOCK_FIELDS; f++)
                o.f[f] = BLOCK_NULL;
        for (size_t k = 0; k < n; k++) {
                const int64_t *v = in[k].f;
                if (v[BF_RPS] != BLOCK_NULL) {
                        rps += (double) v[BF_RPS];
                        rps_n++;
                }
                if (v[BF_AVG_RT] != BLOCK_NULL && v[BF_RPS] != BLOCK_NULL && v[BF_RPS] > 0) {
                        rt += (double) v[BF_AVG_RT] * (double) v[BF_RPS];
                        rt_w += (double) v[BF_RPS];
                } else if (v[BF_AVG_RT] != BLOCK_NULL) {
                        rt_plain += (double) v[BF_AVG_RT];
                        rt_n++;
                }
                if (v[BF_CPU] != BLOCK_NULL) {
                        cpu += (double) v[BF_CPU];
                        cpu_n++;
                }
                if (v[BF_BUSY] != BLOCK_NULL) {
                        busy += (double) v[BF_BUSY];
                        busy_n++;
                }
                static const int last[] = { BF_REQUESTS, BF_ERRORS, BF_RESPAWNS };
                for (size_t j = 0; j < ELEMENTSOF(last); j++)
                        if (v[last[j]] != BLOCK_NULL)
                                o.f[last[j]] = v[last[j]];
                static const int peak[] = { BF_P99_RT, BF_RSS, BF_TOTAL, BF_LISTEN_QUEUE };
                for (size_t j = 0; j < ELEMENTSOF(peak); j++)
                        fmax64(&o.f[peak[j]], v[peak[j]]);
        }
        o.f[BF_RPS] = mean64(rps, rps_n);
        o.f[BF_AVG_RT] = rt_w > 0 ? mean64(rt, rt_w) : mean64(rt_plain, rt_n);
        o.f[BF_CPU] = mean64(cpu, cpu_n);
        o.f[BF_BUSY] = mean64(busy, busy_n);
        return o;
}

/* Merges add (oldest first) into the block of vassal id at res starting at start: what is
 * there is read, a sample of the same second replaced, the whole written back. */
static int block_merge(Store *s, int64_t id, int res, int64_t start, const BlockSample *add,
                       size_t n_add) {
        sqlite3_stmt *st = s->st[ST_BLOCK_GET];
        BlockSample *old = s->merge_old, *out = s->merge_out;
        long n_old = 0;
        int rc;

        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, res);
        sqlite3_bind_int64(st, 3, start);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const void *data = sqlite3_column_blob(st, 0);
                n_old = block_decode(data, (size_t) sqlite3_column_bytes(st, 0), old,
                                     BLOCK_MAX_SAMPLES);
                if (n_old < 0) {
                        log_warning("stats store '%s': vassal %lld's block %d/%lld is unreadable, "
                                    "replacing it", s->path, (long long) id, res, (long long) start);
                        n_old = 0;
                }
                rc = SQLITE_DONE;
        }
        (void) sqlite3_reset(st);
        if (rc != SQLITE_DONE)
                return rc;

        size_t i = 0, j = 0, n = 0;
        while ((i < (size_t) n_old || j < n_add) && n < BLOCK_MAX_SAMPLES) {
                if (j == n_add || (i < (size_t) n_old && old[i].ts < add[j].ts))
                        out[n++] = old[i++];
                else {
                        if (i < (size_t) n_old && old[i].ts == add[j].ts)
                                i++;
                        out[n++] = add[j++];
                }
        }
        long len = block_encode(out, n, s->blob, sizeof(s->blob));
        if (len < 0)
                return SQLITE_INTERNAL; /* values are clamped: cannot happen */
        st = s->st[ST_BLOCK_PUT];
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, res);
        sqlite3_bind_int64(st, 3, start);
        sqlite3_bind_int64(st, 4, (int64_t) n);
        sqlite3_bind_blob(st, 5, s->blob, (int) len, SQLITE_STATIC);
        return step_done(st);
}

/* One vassal's journal rows of one minute: a raw block, and its minute in the hour's block. */
static int pack_minute(Store *s, int64_t id, const BlockSample *rows, size_t n) {
        int64_t minute = rows[0].ts / 60 * 60;
        int rc = block_merge(s, id, 1, minute, rows, n);
        if (rc == SQLITE_OK) {
                BlockSample m = rollup(rows, n, minute);
                rc = block_merge(s, id, 60, minute / 3600 * 3600, &m, 1);
        }
        return rc;
}

static BlockSample row_to_block(sqlite3_stmt *st) {
        BlockSample b = { .ts = sqlite3_column_int64(st, 1) };
        for (int f = 0; f < BLOCK_FIELDS; f++)
                b.f[f] = sqlite3_column_type(st, 2 + f) == SQLITE_NULL ? BLOCK_NULL
                                                                       : sqlite3_column_int64(st, 2 + f);
        return b;
}

/* The next chunk of vassal ids after the cursor: (cursor, *ret_hi]; done when it is the last. */
static int next_ids(Store *s, int64_t cursor, int64_t *ret_hi, bool *ret_last) {
        sqlite3_stmt *st = s->st[ST_VASSAL_IDS];
        size_t n = 0;
        int rc;

        sqlite3_bind_int64(st, 1, cursor);
        sqlite3_bind_int64(st, 2, MAINT_IDS);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                *ret_hi = sqlite3_column_int64(st, 0);
                n++;
        }
        (void) sqlite3_reset(st);
        *ret_last = n < MAINT_IDS;
        if (*ret_last)
                *ret_hi = INT64_MAX;
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Packs the journal's rows before m->until of the next chunk of vassals, then drops them from
 * the journal, in one transaction; the last chunk moves rollup_60. */
static int maint_pack_step(Store *s, bool *ret_done) {
        Maint *m = &s->maint;
        int64_t hi, cur_id = -1;
        size_t n = 0;
        bool last;
        int rc = step_done(s->st[ST_BEGIN]);

        if (rc != SQLITE_OK)
                return rc;
        rc = next_ids(s, m->cursor, &hi, &last);
        sqlite3_stmt *st = s->st[ST_RECENT_READ];
        if (rc == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, m->until);
                sqlite3_bind_int64(st, 2, m->cursor);
                sqlite3_bind_int64(st, 3, hi);
        }
        while (rc == SQLITE_OK) {
                int step = sqlite3_step(st);
                int64_t id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
                BlockSample b = step == SQLITE_ROW ? row_to_block(st) : (BlockSample) {};
                /* A vassal's minute ends at another vassal, another minute or the end. */
                if (n > 0 && (id != cur_id || b.ts / 60 != s->rows[0].ts / 60 ||
                              n == BLOCK_MAX_SAMPLES)) {
                        rc = pack_minute(s, cur_id, s->rows, n);
                        n = 0;
                }
                if (step != SQLITE_ROW) {
                        if (step != SQLITE_DONE && rc == SQLITE_OK)
                                rc = step;
                        break;
                }
                cur_id = id;
                s->rows[n++] = b;
        }
        (void) sqlite3_reset(st);
        if (rc == SQLITE_OK) {
                st = s->st[ST_RECENT_DELETE];
                sqlite3_bind_int64(st, 1, m->until);
                sqlite3_bind_int64(st, 2, m->cursor);
                sqlite3_bind_int64(st, 3, hi);
                rc = step_done(st);
        }
        if (rc == SQLITE_OK && last)
                rc = meta_set(s, "rollup_60", m->until);
        if (rc == SQLITE_OK)
                rc = step_done(s->st[ST_COMMIT]);
        if (rc != SQLITE_OK)
                return store_rollback(s, rc);
        m->cursor = hi;
        *ret_done = last;
        return SQLITE_OK;
}

/* Rolls the hour m->until up for the next chunk of vassals that have minutes in it; the last
 * chunk moves rollup_3600. */
static int maint_hour_step(Store *s, bool *ret_done) {
        Maint *m = &s->maint;
        int64_t ids[MAINT_IDS];
        BlockSample *hours = s->rows; /* BLOCK_MAX_SAMPLES >= MAINT_IDS */
        size_t n = 0;
        int rc = step_done(s->st[ST_BEGIN]);

        if (rc != SQLITE_OK)
                return rc;
        sqlite3_stmt *st = s->st[ST_BLOCKS_AT];
        sqlite3_bind_int(st, 1, 60);
        sqlite3_bind_int64(st, 2, m->until);
        sqlite3_bind_int64(st, 3, m->cursor);
        sqlite3_bind_int(st, 4, MAINT_IDS);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                long k = block_decode(sqlite3_column_blob(st, 1),
                                      (size_t) sqlite3_column_bytes(st, 1), s->merge_old,
                                      BLOCK_MAX_SAMPLES);
                ids[n] = sqlite3_column_int64(st, 0);
                if (k > 0)
                        hours[n++] = rollup(s->merge_old, (size_t) k, m->until);
                else
                        m->cursor = ids[n]; /* unreadable: skipped */
        }
        (void) sqlite3_reset(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        for (size_t k = 0; k < n && rc == SQLITE_OK; k++)
                rc = block_merge(s, ids[k], 3600, m->until / 86400 * 86400, &hours[k], 1);
        bool last = n < MAINT_IDS;
        if (rc == SQLITE_OK && last)
                rc = meta_set(s, "rollup_3600", m->until + 3600);
        if (rc == SQLITE_OK)
                rc = step_done(s->st[ST_COMMIT]);
        if (rc != SQLITE_OK)
                return store_rollback(s, rc);
        if (n > 0)
                m->cursor = ids[n - 1];
        *ret_done = last;
        return SQLITE_OK;
}

static int pragma_int(Store *s, Stmt k, int64_t *ret) {
        sqlite3_stmt *st = s->st[k];
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        }
        (void) sqlite3_reset(st);
        return rc;
}

/* The oldest block's start at resolution index k, or INT64_MAX when there is none. */
static int oldest_block(Store *s, size_t k, int64_t *ret) {
        sqlite3_stmt *st = s->st[ST_OLDEST];
        sqlite3_bind_int(st, 1, resolutions[k]);
        int rc = sqlite3_step(st);
        *ret = INT64_MAX;
        if (rc == SQLITE_ROW) {
                if (sqlite3_column_type(st, 0) != SQLITE_NULL)
                        *ret = sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        }
        (void) sqlite3_reset(st);
        return rc;
}

/* What goes first when the file is past its bound, each down to its floor (seconds of
 * history kept): recent seconds and minutes are what people look at. */
static const struct {
        size_t k; /* resolution index */
        int64_t floor;
} budget_trims[] = {
        { 0, 3600 }, { 1, 7 * 86400 }, { 0, 600 }, { 1, 86400 }, { 2, 30 * 86400 },
};

static void format_span(int64_t secs, char *buf, size_t size) {
        if (secs >= 2 * 86400)
                snprintf(buf, size, "%lldd%02lldh", (long long) (secs / 86400),
                         (long long) (secs % 86400 / 3600));
        else
                snprintf(buf, size, "%lldh%02lldm", (long long) (secs / 3600),
                         (long long) (secs % 3600 / 60));
}

/* Past 90% of max_bytes (pages in use, not the file: free pages are reused), deletes a chunk
 * of the oldest blocks of the first tier in budget_trims that is above its floor. Sets
 * *ret_more when it deleted some (the next tick checks again). */
static int store_budget(Store *s, int64_t now_s, bool *ret_more) {
        int64_t pages = 0, free_pages = 0, oldest;
        int rc;

        *ret_more = false;
        rc = pragma_int(s, ST_PAGES, &pages);
        if (rc == SQLITE_OK)
                rc = pragma_int(s, ST_FREE_PAGES, &free_pages);
        if (rc != SQLITE_OK)
                return rc;
        uint64_t used = (uint64_t) (pages - free_pages) * (uint64_t) s->page_size;
        if (used <= s->max_bytes / 10 * 9)
                return SQLITE_OK;
        for (size_t t = 0; t < ELEMENTSOF(budget_trims); t++) {
                size_t k = budget_trims[t].k;
                rc = oldest_block(s, k, &oldest);
                if (rc != SQLITE_OK)
                        return rc;
                int64_t floor_start = now_s - budget_trims[t].floor - block_spans[k];
                if (oldest >= floor_start)
                        continue;
                /* A chunk: ten blocks' time of every vassal, at most EXPIRE_CHUNK blocks. */
                int64_t cut = MIN(oldest + 10 * block_spans[k], floor_start) + 1;
                sqlite3_stmt *st = s->st[ST_BLOCKS_EXPIRE];
                sqlite3_bind_int(st, 1, resolutions[k]);
                sqlite3_bind_int64(st, 2, cut);
                sqlite3_bind_int(st, 3, EXPIRE_CHUNK);
                rc = step_done(st);
                if (rc != SQLITE_OK)
                        return rc;
                *ret_more = true;
                if (now_s - s->budget_logged_at >= 3600) {
                        static const char *const names[] = { "seconds", "minutes", "hours" };
                        char kept[32], want[32];
                        format_span(now_s - cut, kept, sizeof(kept));
                        format_span((int64_t) s->retain[k], want, sizeof(want));
                        log_notice("stats store '%s': %.0f MB used of its %.0f MB bound: %s are "
                                   "kept %s instead of %s (--store-max-size)",
                                   s->path, (double) used / 1e6, (double) s->max_bytes / 1e6,
                                   names[k], kept, want);
                        queue_eventf(s, NULL, "store",
                                     "%.0f MB of %.0f MB: %s kept %s instead of %s",
                                     (double) used / 1e6, (double) s->max_bytes / 1e6, names[k],
                                     kept, want);
                        s->budget_logged_at = now_s;
                }
                return SQLITE_OK;
        }
        return SQLITE_OK;
}

/* Deletes blocks that ended before their retention, and old events, a bounded number a step. */
static int maint_expire_step(Store *s, int64_t now_s, bool *ret_done) {
        int changes = 0;
        int rc = step_done(s->st[ST_BEGIN]);

        if (rc != SQLITE_OK)
                return rc;
        for (size_t k = 0; k < 3 && rc == SQLITE_OK; k++) {
                sqlite3_stmt *st = s->st[ST_BLOCKS_EXPIRE];
                sqlite3_bind_int(st, 1, resolutions[k]);
                /* A block goes once all of it is older than the retention. */
                sqlite3_bind_int64(st, 2, now_s - (int64_t) s->retain[k] - block_spans[k] + 1);
                sqlite3_bind_int(st, 3, EXPIRE_CHUNK);
                rc = step_done(st);
                changes += sqlite3_changes(s->db);
        }
        if (rc == SQLITE_OK) {
                sqlite3_stmt *st = s->st[ST_DELETE_EVENTS];
                sqlite3_bind_int64(st, 1, (now_s - (int64_t) s->retain[2]) * 1000);
                sqlite3_bind_int64(st, 2, EVENTS_CHUNK);
                rc = step_done(st);
                changes += sqlite3_changes(s->db);
        }
        bool over = false;
        if (rc == SQLITE_OK)
                rc = store_budget(s, now_s, &over);
        if (rc == SQLITE_OK)
                rc = step_done(s->st[ST_COMMIT]);
        if (rc != SQLITE_OK)
                return store_rollback(s, rc);
        *ret_done = changes < EXPIRE_CHUNK && !over;
        return SQLITE_OK;
}

/* A step of the work between ticks, when some is due: pack the closed minutes, roll a closed
 * hour up, expire. */
static bool store_maintain(Store *s) {
        Maint *m = &s->maint;
        int64_t now = (int64_t) (store_now(s) / 1000), wm60, wm3600;
        bool done = false;
        int rc;

        if (!s->db || s->failures > 0 || s->n_events + s->n_samples > 0)
                return false;
        if (m->kind == MAINT_NONE) {
                rc = meta_get(s, "rollup_60", &wm60);
                if (rc == SQLITE_OK)
                        rc = meta_get(s, "rollup_3600", &wm3600);
                if (rc != SQLITE_OK)
                        goto fail;
                bool due[_MAINT_MAX] = {
                        [MAINT_PACK] = wm60 < now / 60 * 60,
                        [MAINT_HOUR] = wm3600 + 3600 <= wm60,
                        [MAINT_EXPIRE] = now - m->expired_at >= EXPIRE_EVERY_S,
                };
                /* Round robin from the kind after the last: a store that falls behind packing
                 * (a huge fleet, a slow disk) still rolls hours up and expires. */
                for (int k = 1; k < _MAINT_MAX && m->kind == MAINT_NONE; k++) {
                        MaintKind kind = (MaintKind) ((m->last + k - 1) % (_MAINT_MAX - 1) + 1);
                        if (due[kind])
                                *m = (Maint) { .kind = kind,
                                               .last = m->last,
                                               .until = kind == MAINT_PACK ? now / 60 * 60 : wm3600,
                                               .expired_at = m->expired_at };
                }
                if (m->kind == MAINT_NONE)
                        return false;
        }
        switch (m->kind) {
        case MAINT_PACK:
                rc = maint_pack_step(s, &done);
                break;
        case MAINT_HOUR:
                rc = maint_hour_step(s, &done);
                break;
        default:
                rc = maint_expire_step(s, now, &done);
                if (rc == SQLITE_OK && done)
                        m->expired_at = now;
                break;
        }
        if (rc != SQLITE_OK)
                goto fail;
        if (done) {
                m->last = m->kind;
                m->kind = MAINT_NONE;
        }
        return true;
fail:
        m->kind = MAINT_NONE;
        if (rc_corrupt(rc))
                store_move_aside(s, rc, "packing");
        else
                (void) store_fail_db(s, rc, "packing");
        return false;
}

bool store_idle(Store *s) {
        return s && store_maintain(s);
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
        s->max_bytes = o->max_bytes ? MAX(o->max_bytes, STORE_MAX_BYTES_MIN) : STORE_MAX_BYTES_DEFAULT;
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

/* The rate, from the vassal's previous sample. */
static void sample_derive(VassalRec *v, const StoreSample *in, uint64_t now_ms,
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
        if (!same || report != v->prev_report_usec) {
                v->has_prev = true;
                v->prev_pid = in->pid;
                v->prev_requests = in->requests;
                v->prev_report_usec = report;
                v->has_rps = out->has_rps;
                v->prev_rps = out->rps;
        }
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
                sample_derive(v, in, now_ms, p);
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
