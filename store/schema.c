/* SPDX-License-Identifier: MIT */
/* The store's file: made or opened, migrated to SCHEMA_VERSION, its statements prepared;
 * failures logged and retried, a corrupt file moved aside and a new one begun. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store-internal.h"


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

/* ---- opening, failing, recovering ---- */

bool schema_rc_corrupt(int rc) {
        return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

void schema_close(Store *s) {
        for (size_t k = 0; k < _ST_MAX; k++) {
                sqlite3_finalize(s->st[k]);
                s->st[k] = NULL;
        }
        if (s->db)
                (void) sqlite3_close_v2(s->db);
        s->db = NULL;
        s->maint.kind = MAINT_NONE;
}

void schema_format_ms(uint64_t ms, char *buf, size_t size) {
        if (ms < 60000)
                snprintf(buf, size, "%.0f s", (double) ms / 1000);
        else
                snprintf(buf, size, "%.0f min", (double) ms / 60000);
}

/* A write or an open failed for a reason that may pass (locked, full, I/O, permissions): log
 * (at most once a minute, or when the reason changes) and retry later. Returns -errno. */
int schema_fail(Store *s, int rc, const char *what, const char *msg) {
        uint64_t now = store_now(s);
        uint64_t delay = RETRY_MIN_MS << MIN(s->failures, 6u);
        char when[32];

        s->failures++;
        delay = MIN(delay, RETRY_MAX_MS);
        s->retry_at_ms = now + delay;
        if (s->last_log_ms == 0 || now - s->last_log_ms >= LOG_INTERVAL_MS || rc != s->last_log_rc) {
                schema_format_ms(delay, when, sizeof(when));
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

int schema_fail_db(Store *s, int rc, const char *what) {
        const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", msg);
        return schema_fail(s, rc, what, copy);
}

/* The database is damaged: move it (and its -wal and -shm) aside for a post-mortem, and start
 * over with an empty one. The rows waiting in memory go to the new one. */
void schema_move_aside(Store *s, int rc, const char *what) {
        uint64_t now = store_now(s);
        char why[256], aside[4200];

        snprintf(why, sizeof(why), "%s: %s", what,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        schema_close(s);
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
        store_forget_ids(s);
        store_queue_eventf(s, NULL, "store", "%s was corrupt (%s): moved to %s, started a new one",
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

int schema_step_done(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        (void) sqlite3_reset(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Migrations from the file's user_version to ours, each in its own transaction. */
static int schema_migrate(Store *s, const char **ret_what) {
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
        }
        /* One line for what was done, not one per step. */
        if (version == 0)
                log_info("stats store '%s': created (schema version %d)", s->path, SCHEMA_VERSION);
        else if (version < SCHEMA_VERSION)
                log_info("stats store '%s': schema version %d -> %d", s->path, version,
                         SCHEMA_VERSION);
        return SQLITE_OK;
}

int schema_meta_get(Store *s, const char *key, int64_t *ret) {
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

int schema_meta_set(Store *s, const char *key, int64_t value) {
        sqlite3_stmt *st = s->st[ST_META_SET];
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, value);
        return schema_step_done(st);
}

/* The watermarks of a new database: nothing before its first minute to pack, nor before its
 * first hour to roll up. rollup_60: journal rows before it are packed, and their minutes
 * rolled up; rollup_3600: the hours before it are rolled up. */
static int schema_init_meta(Store *s) {
        int64_t now = (int64_t) (store_now(s) / 1000), v;
        static const char *const keys[] = { "rollup_60", "rollup_3600" };
        const int64_t starts[] = { now / 60 * 60, now / 3600 * 3600 };
        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                int rc = schema_meta_get(s, keys[k], &v);
                if (rc == SQLITE_OK && v < 0)
                        rc = schema_meta_set(s, keys[k], starts[k]);
                if (rc != SQLITE_OK)
                        return rc;
        }
        return SQLITE_OK;
}

/* The store is not for everyone: it records the request lines of harakiris, and in --tyrant
 * mode every user's vassals. The file is made 0640 before SQLite sees it (SQLite gives its
 * -wal and -shm files the database's mode and owner), and one left world-readable by an older
 * emperor loses its bits for others, with its -wal and -shm. The group (the emperor's) may
 * read: an admin may chgrp it to let operators run `emperorctl stats`. emperor-web, which runs
 * as --http-user, opens it while still root (web/main.c), so it needs no group. */
static void schema_restrict(const char *path) {
        static const char *const suffixes[] = { "", "-wal", "-shm" };
        char name[4096];

        for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
                if (snprintf(name, sizeof(name), "%s%s", path, suffixes[k]) >= (int) sizeof(name))
                        return;
                _cleanup_close_ int fd = open(name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
                                                            (k == 0 ? O_CREAT : 0), 0640);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if ((st.st_mode & 0007) && fchmod(fd, st.st_mode & 0770) < 0)
                        log_warning("Cannot make '%s' unreadable to others: %m", name);
        }
}

/* Opens (creating, migrating) the database and prepares every statement. Returns an SQLite
 * code; on failure the store is closed and *ret_what says what failed. */
static int schema_open_once(Store *s, const char **ret_what) {
        int rc;

        *ret_what = "opening";
        schema_restrict(s->path);
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
                rc = schema_migrate(s, ret_what);
        for (size_t k = 0; rc == SQLITE_OK && k < _ST_MAX; k++) {
                *ret_what = "preparing the statements";
                rc = sqlite3_prepare_v3(s->db, stmt_sql[k], -1, SQLITE_PREPARE_PERSISTENT,
                                        &s->st[k], NULL);
        }
        if (rc == SQLITE_OK) {
                *ret_what = "reading the rollup state";
                rc = schema_init_meta(s);
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

int schema_open(Store *s) {
        const char *what = "opening";
        int r = mkdir_p(s->state_dir);
        if (r < 0) {
                char msg[128];
                snprintf(msg, sizeof(msg), "cannot make the state dir: %s", strerror(-r));
                return schema_fail(s, SQLITE_CANTOPEN, "opening", msg);
        }
        for (int attempt = 0; attempt < 2; attempt++) {
                int rc = schema_open_once(s, &what);
                if (rc == SQLITE_OK) {
                        log_debug("stats store '%s' open", s->path);
                        return 0;
                }
                if (!schema_rc_corrupt(rc) || attempt > 0) {
                        r = schema_fail_db(s, rc, what);
                        schema_close(s);
                        return r;
                }
                schema_move_aside(s, rc, what);
        }
        return -EIO;
}

