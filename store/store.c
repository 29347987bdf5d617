/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "store-internal.h"

const int resolutions[3] = { 1, 60, 3600 };
/* What a block of each resolution spans: a minute of seconds, an hour of minutes, a day of
 * hours. */
const int64_t block_spans[3] = { 60, 3600, 86400 };

static uint64_t clock_now(void *userdata) {
        struct timespec ts;
        (void) userdata;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

uint64_t store_now(const Store *s) {
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
void store_forget_ids(Store *s) {
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

int store_queue_event(Store *s, VassalRec *v, const char *kind, const char *detail) {
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

_printf_(4, 5) void store_queue_eventf(Store *s, VassalRec *v, const char *kind,
                                        const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        (void) store_queue_event(s, v, kind, buf);
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
        return schema_step_done(st);
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
        return schema_step_done(st);
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

int store_rollback(Store *s, int rc) {
        if (s->db && !sqlite3_get_autocommit(s->db))
                (void) schema_step_done(s->st[ST_ROLLBACK]);
        vassals_settle_ids(s, false);
        return rc;
}

/* Everything waiting, in one transaction. */
static int store_write(Store *s) {
        int64_t now_s = (int64_t) (store_now(s) / 1000);
        int rc = schema_step_done(s->st[ST_BEGIN]);
        if (rc != SQLITE_OK)
                return rc;
        for (size_t k = 0; k < s->n_events; k++)
                if ((rc = write_event(s, &s->events[k], now_s)) != SQLITE_OK)
                        return store_rollback(s, rc);
        for (size_t k = 0; k < s->n_samples; k++)
                if ((rc = write_sample(s, &s->samples[k], now_s)) != SQLITE_OK)
                        return store_rollback(s, rc);
        rc = schema_step_done(s->st[ST_COMMIT]);
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
                store_queue_eventf(s, NULL, "store", "%llu rows were dropped while the database "
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
                        int r = schema_open(s);
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
                if (!schema_rc_corrupt(rc))
                        return schema_fail_db(s, rc, "writing");
                schema_move_aside(s, rc, "writing");
        }
        return -EIO;
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
        (void) schema_open(s);
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
        schema_close(s);
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
        int r = store_queue_event(s, v, kind, detail);
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
                maintain_step(s);
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

