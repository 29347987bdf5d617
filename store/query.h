/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading the stats store (store.h has the schema): the samples of a span, bucketed, and the
 * events. Used by emperorctl stats|events (its own read-only connection: it works while the
 * emperor is down) and by the emperor's /api/ (web.c). Nothing here writes.
 *
 * Which table answers: rows older than the meta watermark rollup_3600 exist as hours (and as
 * minutes while those are retained), rows older than rollup_60 as minutes, newer ones only
 * raw. A bucket of `every` seconds is read from the coarsest resolution that divides it and
 * still holds that time, so `--since 30d --every 1h` reads hours for the past and minutes and
 * seconds for the last hour. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cJSON cJSON;
typedef struct sqlite3 sqlite3;

/* One bucket of one vassal. NaN: unknown (never reported, or no data in the bucket). */
typedef struct QueryRow {
        const char *vassal;
        int64_t ts;          /* unix s, the bucket's start */
        int64_t every;       /* the bucket's length, s */
        int resolution;      /* the stored resolution it was read from: 1, 60 or 3600 */
        double rps;          /* average over the bucket */
        double requests;     /* cumulative, the bucket's last */
        double errors;       /* cumulative, the bucket's last */
        double errors_delta; /* errors in this bucket (from the previous bucket; NaN first) */
        double avg_rt_ms;    /* rps-weighted */
        double p99_rt_ms;    /* the bucket's maximum */
        double rss;          /* bytes, maximum */
        double cpu;          /* percent of one core, average */
        double busy;         /* average */
        double total;        /* maximum */
        double listen_queue; /* maximum */
        double respawns;     /* cumulative, the bucket's last */
} QueryRow;

/* A vassal's span in one row (emperorctl stats without APP). */
typedef struct QuerySummary {
        const char *vassal;
        int64_t first_ts, last_ts; /* of its samples in the span; 0 when none */
        double rps_avg, rps_max;
        double avg_rt_ms; /* rps-weighted */
        double p99_rt_ms; /* maximum */
        double errors;    /* in the span */
        double rss_max;
        double cpu_avg;
        double exits; /* exit events in the span (crashes, restarts and stops) */
} QuerySummary;

typedef struct QueryEvent {
        int64_t ts_ms;
        const char *vassal; /* NULL: the emperor's or the store's */
        const char *kind;
        const char *detail; /* may be NULL */
} QueryEvent;

/* The longest span a query reads, and the most rows one answer holds. */
#define QUERY_MAX_ROWS 100000

/* Opens the store read-only (it must exist). Returns 0, or -errno with a reason in err. */
int query_open(const char *path, sqlite3 **ret, char *err, size_t err_size);

/* A duration (lib/duration.h: "90", "15m", "24h", "30d", "2w": a span back from now) or a
 * local time "2026-11-30T10:00[:05]", "2026-11-30 10:00", "2026-11-30" (UTC with a trailing
 * "Z") → unix s. now_s is "now". -EINVAL when it is neither. */
int query_parse_since(const char *s, int64_t now_s, int64_t *ret);
/* The bucket length a span of this many seconds is shown in by default: about 60 rows, in
 * steps of 1 s, 5 s, 10 s, 30 s, 1 m, 5 m, 15 m, 1 h, 6 h, 1 d. */
int64_t query_default_every(int64_t span);

/* Calls row() for each bucket of vassal in [since, until), oldest first. Stops early when
 * row() returns non-zero (that value is returned). Returns 0, -ENOENT (no such vassal),
 * -E2BIG (more than QUERY_MAX_ROWS buckets: give a larger every) or -EIO with err set. */
int query_samples(sqlite3 *db, const char *vassal, int64_t since, int64_t until, int64_t every,
                  int (*row)(const QueryRow *r, void *userdata), void *userdata, char *err,
                  size_t err_size);

/* One summary per vassal that has samples or events in [since, until), by name. */
int query_summaries(sqlite3 *db, int64_t since, int64_t until,
                    int (*row)(const QuerySummary *s, void *userdata), void *userdata, char *err,
                    size_t err_size);

/* The events of vassal (NULL: all, the emperor's included) in [since, until) (unix s),
 * oldest first, at most QUERY_MAX_ROWS (the newest). Returns like query_samples(). */
int query_events(sqlite3 *db, const char *vassal, int64_t since, int64_t until,
                 int (*row)(const QueryEvent *e, void *userdata), void *userdata, char *err,
                 size_t err_size);

/* Whether the store knows vassal. */
bool query_vassal_exists(sqlite3 *db, const char *vassal);
/* The ini the emperor last ran vassal from, strdup'd: 0, -ENOENT (no such vassal), -ENODATA
 * (none recorded), -EIO or -ENOMEM. */
int query_vassal_ini(sqlite3 *db, const char *vassal, char **ret);

/* The JSON of a row, a summary, an event (emperorctl --json and the API): the structs' fields
 * under their names, null for NaN, plus "time" (ISO 8601, UTC). NULL on OOM. */
cJSON *query_row_json(const QueryRow *r);
cJSON *query_summary_json(const QuerySummary *s);
cJSON *query_event_json(const QueryEvent *e);
/* ts_ms as "2026-11-30T10:00:05Z" (".123" before the Z when it has milliseconds). */
void query_iso_time(int64_t ts_ms, char *buf, size_t size);
