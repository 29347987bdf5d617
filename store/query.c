/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "block.h"
#include "duration.h"
#include "macro.h"
#include "query.h"

static int query_fail(sqlite3 *db, const char *what, char *err, size_t err_size) {
        snprintf(err, err_size, "%s: %s", what, sqlite3_errmsg(db));
        return -EIO;
}

int query_open(const char *path, sqlite3 **ret, char *err, size_t err_size) {
        sqlite3 *db = NULL;
        int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);

        *ret = NULL;
        if (rc == SQLITE_OK) {
                (void) sqlite3_busy_timeout(db, 2000);
                /* The first read of the file: a missing schema or a non-database fails here. */
                rc = sqlite3_exec(db,
                                  "SELECT 1 FROM blocks LIMIT 0; SELECT 1 FROM recent LIMIT 0;"
                                  "SELECT 1 FROM events LIMIT 0",
                                  NULL, NULL, NULL);
        }
        if (rc != SQLITE_OK) {
                int code = rc == SQLITE_CANTOPEN ? -ENOENT : -EIO;
                snprintf(err, err_size, "cannot read the stats store %s: %s", path,
                         db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
                sqlite3_close_v2(db);
                return code;
        }
        *ret = db;
        return 0;
}

int query_parse_since(const char *s, int64_t now_s, int64_t *ret) {
        int64_t d;
        struct tm tm = {};
        const char *end;
        bool utc = false;

        if (duration_parse(s, &d) == 0) {
                *ret = now_s - d;
                return 0;
        }
        end = strptime(s, "%Y-%m-%d", &tm);
        if (!end)
                return -EINVAL;
        if (*end == 'T' || *end == ' ') {
                const char *t = strptime(end + 1, "%H:%M", &tm);
                if (!t)
                        return -EINVAL;
                end = t;
                if (*end == ':') {
                        t = strptime(end + 1, "%S", &tm);
                        if (!t)
                                return -EINVAL;
                        end = t;
                }
        }
        if (*end == 'Z') {
                utc = true;
                end++;
        }
        if (*end)
                return -EINVAL;
        tm.tm_isdst = -1;
        time_t t = utc ? timegm(&tm) : mktime(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        *ret = (int64_t) t;
        return 0;
}

int64_t query_default_every(int64_t span) {
        static const int64_t steps[] = { 1, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400 };
        int64_t want = span / 120;

        for (size_t k = 0; k < ELEMENTSOF(steps); k++)
                if (steps[k] >= want)
                        return steps[k];
        return (want + 86399) / 86400 * 86400;
}

/* Steps sql (one ?1, the vassal's name) to its first row: 0 with *ret on it (the caller
 * finalizes it), -ENOENT when there is none, -EIO. */
static int vassal_row(sqlite3 *db, const char *sql, const char *vassal, sqlite3_stmt **ret) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

        if (rc == SQLITE_OK && sqlite3_bind_text(st, 1, vassal, -1, SQLITE_STATIC) == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = st;
                return 0;
        }
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static int vassal_id(sqlite3 *db, const char *vassal, int64_t *ret) {
        sqlite3_stmt *st;
        int r = vassal_row(db, "SELECT id FROM vassals WHERE name = ?1", vassal, &st);

        if (r < 0)
                return r;
        *ret = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return 0;
}

/* vassal_id(), its failures said in err. */
static int vassal_lookup(sqlite3 *db, const char *vassal, int64_t *ret, char *err,
                         size_t err_size) {
        int r = vassal_id(db, vassal, ret);
        if (r == -ENOENT)
                snprintf(err, err_size, "no vassal '%s' in the stats store", vassal);
        if (r == -EIO)
                return query_fail(db, "reading the vassals", err, err_size);
        return r;
}

bool query_vassal_exists(sqlite3 *db, const char *vassal) {
        int64_t id;
        return vassal_id(db, vassal, &id) == 0;
}

int query_vassal_ini(sqlite3 *db, const char *vassal, char **ret) {
        sqlite3_stmt *st;
        int r = vassal_row(db, "SELECT ini FROM vassals WHERE name = ?1", vassal, &st);
        const unsigned char *ini;

        if (r < 0)
                return r;
        ini = sqlite3_column_text(st, 0);
        r = !ini || !ini[0] ? -ENODATA : (*ret = strdup((const char *) ini)) ? 0 : -ENOMEM;
        sqlite3_finalize(st);
        return r;
}

/* A meta watermark, or def when it is not there. */
static int64_t meta_value(sqlite3 *db, const char *key, int64_t def) {
        sqlite3_stmt *st = NULL;
        int64_t v = def;

        if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
            SQLITE_OK)
                return def;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
                v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

static double value_or_nan(int64_t v, double scale) {
        return block_real(v, scale);
}

/* The bucket being filled: sums for the weighted averages. */
typedef struct Bucket {
        QueryRow row;
        bool open;
        double t;                 /* seconds of samples in it */
        double rps_t, rps_sum;    /* for rps: Σ rps·t over rows that have one */
        double rt_w, rt_sum;      /* for avg_rt: Σ avg·rps·t and Σ rps·t */
        double rt_plain, rt_n;    /* avg_rt where no rate is known: plain average */
        double cpu_t, cpu_sum;
        double busy_t, busy_sum;
        double prev_errors;       /* the previous bucket's, NaN before the first */
} Bucket;

static void fmax_into(double *into, double v) {
        if (!isnan(v) && (isnan(*into) || v > *into))
                *into = v;
}

static void bucket_start(Bucket *b, const char *vassal, int64_t ts, int64_t every) {
        double prev = b->prev_errors;
        *b = (Bucket) { .open = true, .prev_errors = prev };
        b->row = (QueryRow) {
                .vassal = vassal,
                .ts = ts,
                .every = every,
                .rps = NAN,
                .requests = NAN,
                .errors = NAN,
                .errors_delta = NAN,
                .avg_rt_ms = NAN,
                .p99_rt_ms = NAN,
                .rss = NAN,
                .cpu = NAN,
                .busy = NAN,
                .total = NAN,
                .listen_queue = NAN,
                .respawns = NAN,
        };
}

static void bucket_add(Bucket *b, const BlockSample *x, int resolution) {
        double t = resolution;
        double rps = value_or_nan(x->f[BF_RPS], BLOCK_SCALE_RPS);
        double rt = value_or_nan(x->f[BF_AVG_RT], BLOCK_SCALE_RT);
        double cpu = value_or_nan(x->f[BF_CPU], BLOCK_SCALE_CPU);
        double busy = value_or_nan(x->f[BF_BUSY], BLOCK_SCALE_BUSY);

        b->row.resolution = MAX(b->row.resolution, resolution);
        b->t += t;
        if (!isnan(rps)) {
                b->rps_t += t;
                b->rps_sum += rps * t;
        }
        if (!isnan(rt) && !isnan(rps) && rps > 0) {
                b->rt_w += rps * t;
                b->rt_sum += rt * rps * t;
        } else if (!isnan(rt)) {
                b->rt_plain += rt;
                b->rt_n++;
        }
        if (!isnan(cpu)) {
                b->cpu_t += t;
                b->cpu_sum += cpu * t;
        }
        if (!isnan(busy)) {
                b->busy_t += t;
                b->busy_sum += busy * t;
        }
        /* Cumulative counters: the last row's. */
        if (x->f[BF_REQUESTS] != BLOCK_NULL)
                b->row.requests = (double) x->f[BF_REQUESTS];
        if (x->f[BF_ERRORS] != BLOCK_NULL)
                b->row.errors = (double) x->f[BF_ERRORS];
        if (x->f[BF_RESPAWNS] != BLOCK_NULL)
                b->row.respawns = (double) x->f[BF_RESPAWNS];
        fmax_into(&b->row.p99_rt_ms, value_or_nan(x->f[BF_P99_RT], BLOCK_SCALE_RT));
        fmax_into(&b->row.rss, value_or_nan(x->f[BF_RSS], BLOCK_SCALE_RSS));
        fmax_into(&b->row.total, value_or_nan(x->f[BF_TOTAL], 1));
        fmax_into(&b->row.listen_queue, value_or_nan(x->f[BF_LISTEN_QUEUE], 1));
}

static int bucket_emit(Bucket *b, int (*row)(const QueryRow *r, void *userdata), void *userdata) {
        QueryRow *r = &b->row;

        if (!b->open)
                return 0;
        b->open = false;
        if (b->rps_t > 0)
                r->rps = b->rps_sum / b->rps_t;
        if (b->rt_w > 0)
                r->avg_rt_ms = b->rt_sum / b->rt_w;
        else if (b->rt_n > 0)
                r->avg_rt_ms = b->rt_plain / b->rt_n;
        if (b->cpu_t > 0)
                r->cpu = b->cpu_sum / b->cpu_t;
        if (b->busy_t > 0)
                r->busy = b->busy_sum / b->busy_t;
        if (!isnan(r->errors) && !isnan(b->prev_errors))
                /* A smaller count: the vassal restarted, and counts from 0 again. */
                r->errors_delta = r->errors >= b->prev_errors ? r->errors - b->prev_errors : r->errors;
        if (!isnan(r->errors))
                b->prev_errors = r->errors;
        return row(r, userdata);
}

/* The walk over one vassal's samples, bucket by bucket. */
typedef struct Walk {
        Bucket b;
        const char *vassal;
        int64_t every;
        int (*row)(const QueryRow *r, void *userdata);
        void *userdata;
} Walk;

static int walk_add(Walk *w, const BlockSample *x, int resolution) {
        int64_t bucket = x->ts / w->every * w->every;
        if (!w->b.open || bucket != w->b.row.ts) {
                int r = bucket_emit(&w->b, w->row, w->userdata);
                if (r != 0)
                        return r;
                bucket_start(&w->b, w->vassal, bucket, w->every);
        }
        bucket_add(&w->b, x, resolution);
        return 0;
}

/* The samples of resolution res in [from, to) from the vassal's blocks. */
static int walk_blocks(sqlite3 *db, sqlite3_stmt *st, Walk *w, int64_t id, int res, int64_t span,
                       int64_t from, int64_t to, BlockSample *buf, char *err, size_t err_size) {
        int rc, r = 0;

        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, res);
        sqlite3_bind_int64(st, 3, from - span);
        sqlite3_bind_int64(st, 4, to);
        while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                long n = block_decode(sqlite3_column_blob(st, 0), (size_t) sqlite3_column_bytes(st, 0),
                                      buf, BLOCK_MAX_SAMPLES);
                for (long k = 0; k < n && r == 0; k++)
                        if (buf[k].ts >= from && buf[k].ts < to)
                                r = walk_add(w, &buf[k], res);
        }
        (void) sqlite3_reset(st);
        if (r == 0 && rc != SQLITE_DONE)
                return query_fail(db, "reading the samples", err, err_size);
        return r;
}

/* The journal's samples (the minute not packed yet) in [from, to). */
static int walk_recent(sqlite3 *db, sqlite3_stmt *st, Walk *w, int64_t id, int64_t from,
                       int64_t to, char *err, size_t err_size) {
        int rc, r = 0;

        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, from);
        sqlite3_bind_int64(st, 3, to);
        while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                BlockSample x = { .ts = sqlite3_column_int64(st, 0) };
                for (int f = 0; f < BLOCK_FIELDS; f++)
                        x.f[f] = sqlite3_column_type(st, 1 + f) == SQLITE_NULL
                                         ? BLOCK_NULL
                                         : sqlite3_column_int64(st, 1 + f);
                r = walk_add(w, &x, 1);
        }
        (void) sqlite3_reset(st);
        if (r == 0 && rc != SQLITE_DONE)
                return query_fail(db, "reading the journal", err, err_size);
        return r;
}

static void sqlite3_finalizep(sqlite3_stmt **st) {
        sqlite3_finalize(*st);
}

int query_samples(sqlite3 *db, const char *vassal, int64_t since, int64_t until, int64_t every,
                  int (*row)(const QueryRow *r, void *userdata), void *userdata, char *err,
                  size_t err_size) {
        static const int resolutions[] = { 3600, 60, 1 };
        static const int64_t spans[] = { 86400, 3600, 60 };
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *blocks = NULL, *recent = NULL;
        _cleanup_free_ BlockSample *buf = NULL;
        Walk w = { .b = { .prev_errors = NAN }, .vassal = vassal, .every = every, .row = row,
                   .userdata = userdata };
        int64_t id, from, wm60, wm3600;
        int r;

        if (every <= 0 || until <= since) {
                snprintf(err, err_size, "empty span");
                return -EINVAL;
        }
        r = vassal_lookup(db, vassal, &id, err, err_size);
        if (r < 0)
                return r;
        from = since / every * every;
        if ((until - from) / every > QUERY_MAX_ROWS) {
                snprintf(err, err_size, "more than %d rows: give a longer --every",
                         QUERY_MAX_ROWS);
                return -E2BIG;
        }
        buf = malloc(sizeof(BlockSample) * BLOCK_MAX_SAMPLES);
        if (!buf)
                return -ENOMEM;
        /* Hours hold [.., wm3600), minutes [.., wm60), raw samples everything still kept. */
        wm60 = meta_value(db, "rollup_60", INT64_MIN);
        wm3600 = MIN(meta_value(db, "rollup_3600", INT64_MIN), wm60);
        if (sqlite3_prepare_v2(db,
                               "SELECT data FROM blocks WHERE vassal_id = ?1 AND resolution = ?2"
                               " AND start > ?3 AND start < ?4 ORDER BY start",
                               -1, &blocks, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db,
                               "SELECT ts, requests, errors, rps, avg_rt, p99_rt, rss, cpu, busy,"
                               " total, listen_queue, respawns FROM recent"
                               " WHERE vassal_id = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
                               -1, &recent, NULL) != SQLITE_OK)
                return query_fail(db, "reading the samples", err, err_size);

        int64_t seg_from = from;
        for (size_t k = 0; k < ELEMENTSOF(resolutions) && seg_from < until; k++) {
                int res = resolutions[k];
                int64_t seg_to = res == 3600 ? wm3600 : res == 60 ? wm60 : until;

                if (every % res != 0)
                        continue;
                seg_to = MIN(seg_to, until);
                if (seg_to <= seg_from)
                        continue;
                r = walk_blocks(db, blocks, &w, id, res, spans[k], seg_from, seg_to, buf, err,
                                err_size);
                if (r == 0 && res == 1)
                        r = walk_recent(db, recent, &w, id, seg_from, seg_to, err, err_size);
                if (r != 0)
                        return r;
                seg_from = seg_to;
        }
        return bucket_emit(&w.b, row, userdata);
}

/* ---- summaries ---- */

typedef struct SummaryAcc {
        QuerySummary s;
        double t, rps_sum, rt_w, rt_sum, cpu_t, cpu_sum;
} SummaryAcc;

static int summary_row(const QueryRow *r, void *userdata) {
        SummaryAcc *a = userdata;
        double t = (double) r->every;

        if (a->s.first_ts == 0)
                a->s.first_ts = r->ts;
        a->s.last_ts = r->ts;
        if (!isnan(r->rps)) {
                a->t += t;
                a->rps_sum += r->rps * t;
                fmax_into(&a->s.rps_max, r->rps);
                if (!isnan(r->avg_rt_ms) && r->rps > 0) {
                        a->rt_w += r->rps * t;
                        a->rt_sum += r->avg_rt_ms * r->rps * t;
                }
        }
        if (!isnan(r->cpu)) {
                a->cpu_t += t;
                a->cpu_sum += r->cpu * t;
        }
        if (!isnan(r->errors_delta))
                a->s.errors = (isnan(a->s.errors) ? 0 : a->s.errors) + r->errors_delta;
        fmax_into(&a->s.p99_rt_ms, r->p99_rt_ms);
        fmax_into(&a->s.rss_max, r->rss);
        return 0;
}

static int count_exits(sqlite3 *db, int64_t id, int64_t since, int64_t until, double *ret) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db,
                                    "SELECT count(*) FROM events WHERE vassal_id = ?1 AND"
                                    " kind = 'exit' AND ts >= ?2 AND ts < ?3",
                                    -1, &st, NULL);
        if (rc != SQLITE_OK)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, since * 1000);
        sqlite3_bind_int64(st, 3, until * 1000);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
        return rc == SQLITE_ROW ? 0 : -EIO;
}

int query_summaries(sqlite3 *db, int64_t since, int64_t until,
                    int (*row)(const QuerySummary *s, void *userdata), void *userdata, char *err,
                    size_t err_size) {
        sqlite3_stmt *st = NULL;
        int64_t every = query_default_every(until - since);
        int rc, r = 0;

        if (sqlite3_prepare_v2(db,
                               "SELECT id, name FROM vassals WHERE last_seen IS NULL OR"
                               " last_seen >= ?1 - 120 ORDER BY name",
                               -1, &st, NULL) != SQLITE_OK)
                return query_fail(db, "reading the vassals", err, err_size);
        sqlite3_bind_int64(st, 1, since);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(st, 0);
                const char *name = (const char *) sqlite3_column_text(st, 1);
                SummaryAcc a = { .s = { .vassal = name, .rps_avg = NAN, .rps_max = NAN,
                                        .avg_rt_ms = NAN, .p99_rt_ms = NAN, .errors = NAN,
                                        .rss_max = NAN, .cpu_avg = NAN, .exits = 0 } };
                if (!name)
                        continue;
                r = query_samples(db, name, since, until, every, summary_row, &a, err, err_size);
                if (r < 0 && r != -ENOENT)
                        break;
                if (count_exits(db, id, since, until, &a.s.exits) < 0) {
                        r = query_fail(db, "reading the events", err, err_size);
                        break;
                }
                if (a.t > 0)
                        a.s.rps_avg = a.rps_sum / a.t;
                if (a.rt_w > 0)
                        a.s.avg_rt_ms = a.rt_sum / a.rt_w;
                if (a.cpu_t > 0)
                        a.s.cpu_avg = a.cpu_sum / a.cpu_t;
                r = row(&a.s, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = query_fail(db, "reading the vassals", err, err_size);
        sqlite3_finalize(st);
        return r;
}

/* ---- events ---- */

int query_events(sqlite3 *db, const char *vassal, int64_t since, int64_t until,
                 int (*row)(const QueryEvent *e, void *userdata), void *userdata, char *err,
                 size_t err_size) {
        sqlite3_stmt *st = NULL;
        int64_t id = 0;
        int rc, r = 0;

        if (vassal && (r = vassal_lookup(db, vassal, &id, err, err_size)) < 0)
                return r;
        /* The newest QUERY_MAX_ROWS, shown oldest first. */
        if (sqlite3_prepare_v2(db,
                               "SELECT ts, name, kind, detail FROM"
                               " (SELECT e.id, e.ts, v.name, e.kind, e.detail FROM events AS e"
                               "  LEFT JOIN vassals AS v ON v.id = e.vassal_id"
                               "  WHERE e.ts >= ?1 AND e.ts < ?2 AND (?3 = 0 OR e.vassal_id = ?3)"
                               "  ORDER BY e.ts DESC, e.id DESC LIMIT ?4)"
                               " ORDER BY ts, id",
                               -1, &st, NULL) != SQLITE_OK)
                return query_fail(db, "reading the events", err, err_size);
        sqlite3_bind_int64(st, 1, since * 1000);
        sqlite3_bind_int64(st, 2, until * 1000);
        sqlite3_bind_int64(st, 3, id);
        sqlite3_bind_int(st, 4, QUERY_MAX_ROWS);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                QueryEvent e = {
                        .ts_ms = sqlite3_column_int64(st, 0),
                        .vassal = (const char *) sqlite3_column_text(st, 1),
                        .kind = (const char *) sqlite3_column_text(st, 2),
                        .detail = (const char *) sqlite3_column_text(st, 3),
                };
                if (!e.kind)
                        e.kind = "";
                r = row(&e, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = query_fail(db, "reading the events", err, err_size);
        sqlite3_finalize(st);
        return r;
}

/* ---- JSON ---- */

void query_iso_time(int64_t ts_ms, char *buf, size_t size) {
        time_t t = (time_t) (ts_ms / 1000);
        struct tm tm;
        size_t n;

        if (!gmtime_r(&t, &tm) || (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
                snprintf(buf, size, "%lld", (long long) ts_ms);
                return;
        }
        if (ts_ms % 1000)
                snprintf(buf + n, size - n, ".%03dZ", (int) (ts_ms % 1000));
        else
                snprintf(buf + n, size - n, "Z");
}

static bool add_num(cJSON *o, const char *key, double v) {
        return isnan(v) ? cJSON_AddNullToObject(o, key) != NULL
                        : cJSON_AddNumberToObject(o, key, v) != NULL;
}

static bool add_str(cJSON *o, const char *key, const char *v) {
        return v ? cJSON_AddStringToObject(o, key, v) != NULL : cJSON_AddNullToObject(o, key) != NULL;
}

static cJSON *json_done(cJSON *o, bool ok) {
        if (ok)
                return o;
        cJSON_Delete(o);
        return NULL;
}

cJSON *query_row_json(const QueryRow *r) {
        cJSON *o = cJSON_CreateObject();
        char t[40];

        query_iso_time(r->ts * 1000, t, sizeof(t));
        return json_done(o, o && add_str(o, "time", t) && add_num(o, "ts", (double) r->ts) &&
                                    add_num(o, "every", (double) r->every) &&
                                    add_num(o, "resolution", r->resolution) &&
                                    add_num(o, "rps", r->rps) &&
                                    add_num(o, "requests", r->requests) &&
                                    add_num(o, "errors", r->errors) &&
                                    add_num(o, "errors_delta", r->errors_delta) &&
                                    add_num(o, "avg_rt_ms", r->avg_rt_ms) &&
                                    add_num(o, "p99_rt_ms", r->p99_rt_ms) &&
                                    add_num(o, "rss", r->rss) && add_num(o, "cpu", r->cpu) &&
                                    add_num(o, "busy", r->busy) && add_num(o, "total", r->total) &&
                                    add_num(o, "listen_queue", r->listen_queue) &&
                                    add_num(o, "respawns", r->respawns));
}

cJSON *query_summary_json(const QuerySummary *s) {
        cJSON *o = cJSON_CreateObject();

        return json_done(o, o && add_str(o, "vassal", s->vassal) &&
                                    add_num(o, "rps", s->rps_avg) &&
                                    add_num(o, "rps_max", s->rps_max) &&
                                    add_num(o, "avg_rt_ms", s->avg_rt_ms) &&
                                    add_num(o, "p99_rt_ms", s->p99_rt_ms) &&
                                    add_num(o, "errors", s->errors) &&
                                    add_num(o, "rss_max", s->rss_max) &&
                                    add_num(o, "cpu", s->cpu_avg) && add_num(o, "exits", s->exits));
}

cJSON *query_event_json(const QueryEvent *e) {
        cJSON *o = cJSON_CreateObject();
        char t[40];

        query_iso_time(e->ts_ms, t, sizeof(t));
        return json_done(o, o && add_str(o, "time", t) && add_num(o, "ts_ms", (double) e->ts_ms) &&
                                    add_str(o, "vassal", e->vassal) && add_str(o, "kind", e->kind) &&
                                    add_str(o, "detail", e->detail));
}
