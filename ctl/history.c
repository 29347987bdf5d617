/* SPDX-License-Identifier: MIT */
/* emperorctl stats and events: the fleet's history, read straight from the stats store
 * (read-only, store/query.h), so they answer while the emperor is down. Tables for people,
 * --json (an array of objects, nulls for what is unknown) and --csv for scripts; both stream,
 * so a long span never sits in memory. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "ctl.h"
#include "duration.h"
#include "jsonutil.h"
#include "query.h"

typedef enum Output { OUT_TABLE, OUT_JSON, OUT_CSV } Output;

typedef struct Printer {
        Output out;
        size_t n;
        bool one_day; /* the table shows times without the date */
} Printer;

static Output output(void) {
        return ctl_args.json ? OUT_JSON : ctl_args.csv ? OUT_CSV : OUT_TABLE;
}

static void local_time(int64_t ts, bool date, char *buf, size_t size) {
        time_t t = (time_t) ts;
        struct tm tm;
        if (!localtime_r(&t, &tm) ||
            strftime(buf, size, date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm) == 0)
                snprintf(buf, size, "%lld", (long long) ts);
}

/* A cell: the number with prec decimals, "-" when unknown. */
static const char *num(double v, int prec, char *buf, size_t size) {
        if (isnan(v))
                return "-";
        snprintf(buf, size, "%.*f", prec, v);
        return buf;
}

/* Bytes as "512K", "87.5M", "1.2G"; "-" when unknown. */
static const char *bytes(double v, char *buf, size_t size) {
        static const char units[] = "BKMGT";
        size_t u = 0;
        if (isnan(v))
                return "-";
        while (v >= 1024 && u + 1 < sizeof(units) - 1) {
                v /= 1024;
                u++;
        }
        snprintf(buf, size, u == 0 || v >= 100 ? "%.0f%c" : "%.1f%c", v, units[u]);
        return buf;
}

/* Numbers as CSV fields, each after a comma, with its precision; empty when unknown. */
static void csv_nums(const double *v, const int *prec, size_t n) {
        for (size_t k = 0; k < n; k++) {
                putchar(',');
                if (!isnan(v[k]))
                        printf("%.*f", prec[k], v[k]);
        }
        putchar('\n');
}

/* A CSV field: quoted when it has a comma, a quote or a line break. */
static void csv_str(const char *s) {
        if (!s)
                return;
        if (!strpbrk(s, ",\"\r\n")) {
                fputs(s, stdout);
                return;
        }
        putchar('"');
        for (; *s; s++) {
                if (*s == '"')
                        putchar('"');
                putchar(*s);
        }
        putchar('"');
}

/* One element of the streamed array; o (NULL: out of memory) is freed. */
static int json_element(Printer *p, cJSON *o) {
        _cleanup_(cJSON_Deletep) cJSON *owned = o;
        _cleanup_free_ char *text = o ? cJSON_PrintUnformatted(o) : NULL;
        if (!text)
                return -ENOMEM;
        printf("%s%s", p->n == 0 ? "[\n" : ",\n", text);
        p->n++;
        return 0;
}

static void json_end(Printer *p) {
        fputs(p->n == 0 ? "[]\n" : "\n]\n", stdout);
}

/* ---- stats APP ---- */

static int sample_row(const QueryRow *r, void *userdata) {
        Printer *p = userdata;
        char t[64], b[8][32];

        switch (p->out) {
        case OUT_TABLE:
                if (p->n++ == 0)
                        printf("%-*s %9s %8s %8s %8s %7s %6s %9s %5s %8s\n", p->one_day ? 8 : 19,
                               "TIME", "RPS", "ERRORS", "AVG-MS", "P99-MS", "RSS", "CPU%",
                               "BUSY/ALL", "LQ", "RESPAWNS");
                local_time(r->ts, !p->one_day, t, sizeof(t));
                char workers[80];
                if (isnan(r->busy) && isnan(r->total))
                        snprintf(workers, sizeof(workers), "-");
                else
                        snprintf(workers, sizeof(workers), "%s/%s", num(r->busy, 1, b[6], 32),
                                 num(r->total, 0, b[7], 32));
                printf("%-*s %9s %8s %8s %8s %7s %6s %9s %5s %8s\n", p->one_day ? 8 : 19, t,
                       num(r->rps, 1, b[0], 32), num(r->errors_delta, 0, b[1], 32),
                       num(r->avg_rt_ms, 2, b[2], 32), num(r->p99_rt_ms, 2, b[3], 32),
                       bytes(r->rss, b[4], 32), num(r->cpu, 1, b[5], 32), workers,
                       num(r->listen_queue, 0, b[6], 32), num(r->respawns, 0, b[7], 32));
                return 0;
        case OUT_CSV:
                if (p->n++ == 0)
                        printf("time,ts,every,resolution,rps,requests,errors,errors_delta,"
                               "avg_rt_ms,p99_rt_ms,rss,cpu,busy,total,listen_queue,respawns\n");
                query_iso_time(r->ts * 1000, t, sizeof(t));
                printf("%s,%lld,%lld,%d", t, (long long) r->ts, (long long) r->every,
                       r->resolution);
                const double v[] = { r->rps, r->requests, r->errors, r->errors_delta,
                                     r->avg_rt_ms, r->p99_rt_ms, r->rss, r->cpu, r->busy,
                                     r->total, r->listen_queue, r->respawns };
                const int prec[] = { 3, 0, 0, 0, 3, 3, 0, 2, 2, 0, 0, 0 };
                csv_nums(v, prec, ELEMENTSOF(v));
                return 0;
        case OUT_JSON:
                return json_element(p, query_row_json(r));
        }
        return 0;
}

/* ---- stats (the fleet) ---- */

static int summary_row(const QuerySummary *s, void *userdata) {
        Printer *p = userdata;
        char b[8][32];

        switch (p->out) {
        case OUT_TABLE:
                if (p->n++ == 0)
                        printf("%-24s %9s %9s %8s %8s %8s %7s %6s %8s\n", "VASSAL", "RPS",
                               "RPS-MAX", "AVG-MS", "P99-MS", "ERRORS", "RSS-MAX", "CPU%",
                               "EXITS");
                printf("%-24s %9s %9s %8s %8s %8s %7s %6s %8s\n", s->vassal,
                       num(s->rps_avg, 1, b[0], 32), num(s->rps_max, 1, b[1], 32),
                       num(s->avg_rt_ms, 2, b[2], 32), num(s->p99_rt_ms, 2, b[3], 32),
                       num(s->errors, 0, b[4], 32), bytes(s->rss_max, b[5], 32),
                       num(s->cpu_avg, 1, b[6], 32), num(s->exits, 0, b[7], 32));
                return 0;
        case OUT_CSV:
                if (p->n++ == 0)
                        printf("vassal,rps,rps_max,avg_rt_ms,p99_rt_ms,errors,rss_max,cpu,"
                               "exits\n");
                csv_str(s->vassal);
                const double v[] = { s->rps_avg, s->rps_max, s->avg_rt_ms, s->p99_rt_ms,
                                     s->errors, s->rss_max, s->cpu_avg, s->exits };
                const int prec[] = { 3, 3, 3, 3, 0, 0, 2, 0 };
                csv_nums(v, prec, ELEMENTSOF(v));
                return 0;
        case OUT_JSON:
                return json_element(p, query_summary_json(s));
        }
        return 0;
}

/* ---- events ---- */

static int event_row(const QueryEvent *e, void *userdata) {
        Printer *p = userdata;
        char t[64];

        switch (p->out) {
        case OUT_TABLE: {
                if (p->n++ == 0)
                        printf("%-23s %-20s %-12s %s\n", "TIME", "VASSAL", "KIND", "DETAIL");
                time_t secs = (time_t) (e->ts_ms / 1000);
                struct tm tm;
                char day[32] = "?";
                if (localtime_r(&secs, &tm))
                        (void) strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
                snprintf(t, sizeof(t), "%s.%03d", day, (int) (e->ts_ms % 1000));
                _cleanup_free_ char *detail = e->detail ? format_clean_line(e->detail, 0) : NULL;
                _cleanup_free_ char *name = e->vassal ? format_clean_line(e->vassal, 0) : NULL;
                printf("%-23s %-20s %-12s %s\n", t, name ? name : "(emperor)", e->kind,
                       detail ? detail : "");
                return 0;
        }
        case OUT_CSV:
                if (p->n++ == 0)
                        printf("time,ts_ms,vassal,kind,detail\n");
                query_iso_time(e->ts_ms, t, sizeof(t));
                printf("%s,%lld,", t, (long long) e->ts_ms);
                csv_str(e->vassal);
                putchar(',');
                csv_str(e->kind);
                putchar(',');
                csv_str(e->detail);
                putchar('\n');
                return 0;
        case OUT_JSON:
                return json_element(p, query_event_json(e));
        }
        return 0;
}

/* ---- the commands ---- */

/* Opens the store and reads --since and --every. Returns 0 or an exit status, printed. */
static int history_setup(const char *default_since, sqlite3 **ret_db, int64_t *ret_since,
                         int64_t *ret_until) {
        _cleanup_free_ char *path = ctl_db_path();
        const char *since = ctl_args.since ? ctl_args.since : default_since;
        int64_t now = (int64_t) time(NULL);
        char error[512];
        int r;

        if (!path)
                return ctl_err(CTL_EXIT_FAILED, "out of memory");
        if (query_parse_since(since, now, ret_since) < 0)
                return ctl_err(CTL_EXIT_USAGE,
                               "invalid --since '%s' (a span like 90s, 15m, 1h, 30d, or a time "
                               "like 2026-11-30T10:00)",
                               since);
        if (*ret_since >= now)
                return ctl_err(CTL_EXIT_USAGE, "--since '%s' is not in the past", since);
        *ret_until = now + 1;
        r = query_open(path, ret_db, error, sizeof(error));
        if (r < 0)
                return ctl_err(CTL_EXIT_FAILED, "%s%s", error,
                               r == -ENOENT ? " (give --state-dir or --db)" : "");
        return 0;
}

static int history_done(Printer *p, int r, const char *error, const char *app, const char *what) {
        if (r == -ENOENT)
                return ctl_err(CTL_EXIT_NO_SUCH_VASSAL, "%s", error);
        if (r == -E2BIG || r == -EINVAL)
                return ctl_err(CTL_EXIT_USAGE, "%s", error);
        if (r == -ENOMEM)
                return ctl_err(CTL_EXIT_FAILED, "out of memory");
        if (r < 0)
                return ctl_err(CTL_EXIT_FAILED, "%s", error);
        if (p->out == OUT_JSON)
                json_end(p);
        else if (p->n == 0 && p->out == OUT_TABLE)
                fprintf(stderr, "emperorctl: no %s%s%s since %s\n", what, app ? " of " : "",
                        app ? app : "", ctl_args.since ? ctl_args.since : "then");
        return CTL_EXIT_OK;
}

static void sqlite3_closep(sqlite3 **db) {
        if (*db)
                sqlite3_close_v2(*db);
}

int ctl_cmd_stats(const CtlInvocation *inv) {
        _cleanup_(sqlite3_closep) sqlite3 *db = NULL;
        Printer p = { .out = output() };
        int64_t since = 0, until = 0, every = 0;
        char error[512] = "";
        int r;

        if (ctl_args.json && ctl_args.csv)
                return ctl_err(CTL_EXIT_USAGE, "give --json or --csv, not both");
        r = history_setup("1h", &db, &since, &until);
        if (r != 0)
                return r;
        if (!inv->app) {
                if (ctl_args.every)
                        return ctl_err(CTL_EXIT_USAGE,
                                       "--every needs an APP (the fleet shows one row a vassal)");
                r = query_summaries(db, since, until, summary_row, &p, error, sizeof(error));
                return history_done(&p, r, error, NULL, "vassals");
        }
        if (ctl_args.every) {
                if (duration_parse(ctl_args.every, &every) < 0)
                        return ctl_err(CTL_EXIT_USAGE,
                                       "invalid --every '%s' (a span like 10s, 1m, 1h, 1d)",
                                       ctl_args.every);
        } else
                every = query_default_every(until - since);
        p.one_day = until - since <= 86400 && every < 86400;
        r = query_samples(db, inv->app, since, until, every, sample_row, &p, error, sizeof(error));
        return history_done(&p, r, error, inv->app, "samples");
}

int ctl_cmd_events(const CtlInvocation *inv) {
        _cleanup_(sqlite3_closep) sqlite3 *db = NULL;
        Printer p = { .out = output() };
        int64_t since = 0, until = 0;
        char error[512] = "";
        int r;

        if (ctl_args.json && ctl_args.csv)
                return ctl_err(CTL_EXIT_USAGE, "give --json or --csv, not both");
        r = history_setup("24h", &db, &since, &until);
        if (r != 0)
                return r;
        r = query_events(db, inv->app, since, until, event_row, &p, error, sizeof(error));
        return history_done(&p, r, error, inv->app, "events");
}
