/* SPDX-License-Identifier: MIT */
#pragma once

/* What the store's three files share (store.c: the API, the vassals and the write queues;
 * schema.c: opening, migrations, failing and recovering; maintain.c: packing, rollups,
 * retention and the size bound). Nothing outside store/ includes this. */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "block.h"
#include "macro.h"
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

/* The resolutions of the packed blocks, in seconds, and what a block of each spans: a minute
 * of seconds, an hour of minutes, a day of hours. */
extern const int resolutions[3];
extern const int64_t block_spans[3];

/* store.c */
uint64_t store_now(const Store *s); /* unix ms, from the options' clock */
int store_rollback(Store *s, int rc); /* rolls the transaction back, returns rc */
void store_forget_ids(Store *s);     /* a new database: every vassal gets a row anew */
/* Queues an event for the next write (vassal NULL: the emperor's or the store's). */
int store_queue_event(Store *s, VassalRec *v, const char *kind, const char *detail);
_printf_(4, 5) void store_queue_eventf(Store *s, VassalRec *v, const char *kind,
                                       const char *fmt, ...);

/* schema.c */
int schema_open(Store *s); /* opens (or makes) the file, migrates it, prepares statements */
void schema_close(Store *s);
/* A write or an open failed for a reason that may pass: logged at most once a minute, retried
 * later. Returns -errno. */
int schema_fail(Store *s, int rc, const char *what, const char *msg);
int schema_fail_db(Store *s, int rc, const char *what); /* schema_fail() with the db's message */
bool schema_rc_corrupt(int rc);
void schema_move_aside(Store *s, int rc, const char *what);
int schema_step_done(sqlite3_stmt *st); /* steps a statement with no rows, resets it */
int schema_meta_get(Store *s, const char *key, int64_t *ret);
int schema_meta_set(Store *s, const char *key, int64_t value);
void schema_format_ms(uint64_t ms, char *buf, size_t size);

/* maintain.c */
/* One bounded step of packing, rollups, expiry or the size bound, when one is due; true when
 * a step ran. */
bool maintain_step(Store *s);
