/* SPDX-License-Identifier: MIT */
#pragma once

/* The stats store: the fleet's history in SQLite at STATE_DIR/stats.db. The emperor is its
 * only writer (this file); `emperorctl stats|events` open it read-only, so the schema below is
 * an interface. Changes to it are new migrations (PRAGMA user_version), never edits.
 *
 * Schema, version 2:
 *
 *   vassals(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, ini TEXT,
 *           first_seen INTEGER, last_seen INTEGER)            -- unix s; last_seen to ~1 min
 *
 *   events(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,        -- unix ms
 *          vassal_id INTEGER,                                  -- NULL: the emperor or the store
 *          kind TEXT NOT NULL, detail TEXT)
 *     index events_vassal_ts(vassal_id, ts), events_ts(ts)
 *     kinds: found changed removed spawn ready exit starting running reload stop stopped
 *            backoff config-error hung emperor store, and from the vassal (X_EVENT): recycle
 *            harakiri worker-exit log-rotate
 *
 *   recent(ts, vassal_id, requests, errors, rps, avg_rt, p99_rt, rss, cpu, busy, total,
 *          listen_queue, respawns, PRIMARY KEY(ts, vassal_id)) WITHOUT ROWID
 *     The journal: every tick's samples, in block.h's integer units (NULL: unknown), appended
 *     in time order (a tick dirties a few pages, not one per vassal). Once a minute is over,
 *     its rows are packed into blocks and deleted, a chunk of vassals per transaction.
 *
 *   blocks(vassal_id, resolution, start, n, data BLOB, PRIMARY KEY(vassal_id, resolution,
 *          start)) WITHOUT ROWID, index blocks_age(resolution, start)
 *     data: n samples packed as block.h describes. resolution 1: a minute of raw samples
 *     (start = the minute); 60: an hour of minute rollups; 3600: a day of hour rollups.
 *     Rollups: requests, errors, respawns the bucket's last (cumulative, 0 again after a
 *     restart of the vassal); rps, cpu, busy the average; avg_rt weighted by rps; p99_rt,
 *     rss, total, listen_queue the maximum. rps is NULL for a process's first sample.
 *     "one vassal since T": WHERE vassal_id = ? AND resolution = ? AND start > T - span.
 *
 *   meta(key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID
 *     rollup_60: journal rows before this unix s are packed, their minutes rolled up;
 *     rollup_3600: hours before this are rolled up. store/query.c reads hours before
 *     rollup_3600, minutes before rollup_60 and raw samples after.
 *
 * Size: a block of a minute of an idle vassal is ~45 bytes, of a busy one 6 to 11 bytes a
 * sample; bench/store.sh measures the whole file for a fleet.
 *
 * Readers: open with SQLITE_OPEN_READONLY; the file is in WAL mode, readers never block the
 * writer. Every stats tick is one transaction for the whole fleet; packing, rollups and expiry
 * run between ticks, a step (a transaction of at most 100 vassals) at a time.
 *
 * Failures never reach the caller as more than a return code: a locked or full database is
 * retried with a backoff while the rows wait in memory (bounded); a corrupt one is moved aside
 * (stats.db.corrupt-UNIXTIME, with its -wal and -shm) and a new one started, with a "store"
 * event saying so. All time comes from StoreOptions.now. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cJSON.h>

#include "vstats.h"

typedef struct Store Store;

#define STORE_RETAIN_RAW_DEFAULT (24ULL * 3600)           /* seconds */
#define STORE_RETAIN_MINUTES_DEFAULT (30ULL * 24 * 3600)
#define STORE_RETAIN_HOURS_DEFAULT (365ULL * 24 * 3600)
#define STORE_MAX_BYTES_DEFAULT (200ULL * 1000 * 1000)
#define STORE_MAX_BYTES_MIN (1ULL << 20)

typedef struct StoreOptions {
        const char *state_dir; /* made if missing; the database is STATE_DIR/stats.db */
        /* Wall-clock time in unix ms; NULL for CLOCK_REALTIME. Tests pass a fake. */
        uint64_t (*now)(void *userdata);
        void *userdata;
        uint64_t retain_raw, retain_minutes, retain_hours; /* seconds; 0: the default */
        /* The file's bound; 0: STORE_MAX_BYTES_DEFAULT. Past 90% of it the oldest blocks go
         * before their retention: seconds older than an hour first, then minutes older than
         * a week, seconds older than 10 minutes, minutes older than a day, hours older than
         * 30 days, each down to that floor (logged, and a "store" event, once an hour). */
        uint64_t max_bytes;
} StoreOptions;

/* One vassal's stats at a tick. Counters are cumulative, as the vassal reports them. */
typedef struct StoreSample {
        const char *name;
        const char *ini;     /* NULL: unknown */
        pid_t pid;           /* the process reporting: a new one starts the rate over */
        uint64_t report_usec; /* when its report came (any monotonic clock); 0: now */
        uint64_t requests;
        uint64_t errors;
        double avg_rt_ms;
        double p99_rt_ms; /* NaN: unknown */
        uint64_t rss;
        double cpu; /* NaN: unknown */
        unsigned busy, total;
        uint64_t listen_queue;
        uint64_t respawns;
        uint64_t harakiris; /* not stored (the vassal's X_EVENT=harakiri is the event) */
} StoreSample;

/* Never fails but for memory: a database that cannot be opened now is retried later. */
int store_new(const StoreOptions *o, Store **ret);
Store *store_free(Store *s);
static inline void store_freep(Store **s) {
        if (*s)
                store_free(*s);
}

/* Records an event (vassal NULL: about the emperor or the store), written at once. Returns 0
 * when written, -EAGAIN when kept for a later write, or another -errno. */
int store_event(Store *s, const char *vassal, const char *ini, const char *kind,
                const char *detail);
/* Writes one tick: a sample per vassal, all in one transaction, then does a bounded step of
 * rollup and retention when one is due. Returns like store_event(). */
int store_tick(Store *s, const StoreSample *samples, size_t n);

/* Fills ret (name, ini, pid and report_usec untouched) from a vassal's decoded report. */
void store_sample_from_vstats(const VassalStats *vs, StoreSample *ret);
/* The same from its X_STATS object (the shape vassal/scoreboard.h documents). False when it is
 * not one. */
bool store_sample_from_stats(const cJSON *stats, StoreSample *ret);

/* One step of the work between ticks (packing the journal, rolling up, expiring, keeping the
 * size bound) when some is due; store_tick() does one itself. True when it did one. For a
 * caller with more idle time, and for simulations whose ticks are far apart. */
bool store_idle(Store *s);

/* Rows waiting in memory for a write (0 when the database is healthy). */
size_t store_pending(const Store *s);
/* Whether the database is open and the last write went through. */
bool store_healthy(const Store *s);
const char *store_path(const Store *s);
/* The connection, for tests (NULL while closed). */
struct sqlite3 *store_db(Store *s);
