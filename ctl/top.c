/* SPDX-License-Identifier: MIT */
/* emperorctl top's frames (top.h, unit-tested): a `status` reply read into rows, rates taken
 * over two frames, sorted, printed as text or JSON. The command itself (polling, the terminal,
 * the keyboard) is cmd-top.c. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "ctl.h"
#include "format.h"
#include "jsonutil.h"
#include "macro.h"
#include "top.h"

/* Two reports closer than this are not taken a rate over: they are the same report seen by
 * two polls (the reply's stats_age jitters by the request's latency), or a vassal reporting
 * out of turn. Vassals report every second or slower (EMPEROR_STATS_INTERVAL). */
#define TOP_SPAN_MIN 0.25
/* Names and states longer than this are cut ("..."): one bad name must not push every other
 * column off the screen. */
#define TOP_TEXT_COLUMNS 40
#define TOP_CELL_MAX (TOP_TEXT_COLUMNS * 4 + 8)
#define TOP_LINE_MAX 2048

/* ---- sort keys and options ---- */

static const char *const sort_names[_TOP_SORT_MAX] = {
        [TOP_SORT_RPS] = "rps",   [TOP_SORT_LATENCY] = "latency", [TOP_SORT_MEMORY] = "memory",
        [TOP_SORT_CPU] = "cpu",   [TOP_SORT_NAME] = "name",
};

const char *top_sort_to_string(TopSort s) {
        return s >= 0 && s < _TOP_SORT_MAX ? sort_names[s] : NULL;
}

TopSort top_sort_from_string(const char *s) {
        for (TopSort k = 0; s && k < _TOP_SORT_MAX; k++)
                if (streq(sort_names[k], s))
                        return k;
        return _TOP_SORT_INVALID;
}

TopSort top_sort_from_key(int key) {
        /* Each name's first letter is the key. */
        for (TopSort k = 0; k < _TOP_SORT_MAX; k++)
                if (key == sort_names[k][0] || key == sort_names[k][0] - 'a' + 'A')
                        return k;
        return _TOP_SORT_INVALID;
}

int top_parse_delay(const char *s, double *ret) {
        char *end;
        double d;

        /* Plain decimals only: strtod() would also take " 1", "1e3", "0x10", "inf". */
        if (!s || !s[0] || strspn(s, "0123456789.") != strlen(s))
                return -EINVAL;
        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || end == s || *end || !isfinite(d))
                return -EINVAL;
        if (d < TOP_DELAY_MIN || d > TOP_DELAY_MAX)
                return -ERANGE;
        *ret = d;
        return 0;
}

int top_parse_count(const char *s, unsigned *ret) {
        unsigned long long v = 0;

        if (!s || !s[0] || strspn(s, "0123456789") != strlen(s))
                return -EINVAL;
        for (; *s; s++) {
                v = v * 10 + (unsigned) (*s - '0');
                if (v > TOP_COUNT_MAX)
                        return -ERANGE;
        }
        if (v == 0)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

/* ---- frames ---- */

static const cJSON *field(const cJSON *o, const char *name) {
        return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
}

/* A number >= 0 (no count, size or time here is negative), else NaN. */
static double number_at(const cJSON *o, const char *name) {
        const cJSON *j = field(o, name);

        if (!j || !cJSON_IsNumber(j) || !isfinite(j->valuedouble) || j->valuedouble < 0)
                return NAN;
        return j->valuedouble;
}

static const char *string_at(const cJSON *o, const char *name) {
        const cJSON *j = field(o, name);

        return j && cJSON_IsString(j) && j->valuestring && j->valuestring[0] ? j->valuestring
                                                                             : NULL;
}

static void row_read(TopRow *row, const cJSON *v, size_t index, double now) {
        const cJSON *w = field(v, "workers");
        double age = number_at(v, "stats_age");

        *row = (TopRow) {
                .vassal = v,
                .name = string_at(v, "name"),
                .index = index,
                .running = streq_ptr(string_at(v, "state"), "running"),
                .pid = number_at(v, "pid"),
                .busy = number_at(w, "busy"),
                .total = number_at(w, "total"),
                .requests = number_at(v, "requests"),
                .errors = number_at(v, "errors"),
                .rps = NAN,
                .eps = NAN,
                .avg_ms = number_at(v, "avg_rt_ms"),
                .p99_ms = number_at(v, "p99_rt_ms"),
                .rss = number_at(v, "rss"),
                .cpu = number_at(v, "cpu"),
                .listen_queue = number_at(v, "listen_queue"),
                .uptime = number_at(v, "uptime"),
        };
        /* An emperor that does not say how old the report is: the poll's time stands in. */
        if (isfinite(age))
                row->report = now - age;
        else
                row->report = isfinite(row->requests) || isfinite(row->errors) ? now : NAN;
}

int top_frame_new(cJSON *reply, double now, time_t wall, TopFrame **ret) {
        const cJSON *vassals = field(reply, "vassals"), *v;
        _cleanup_(top_frame_freep) TopFrame *f = NULL;
        size_t n = 0;

        if (!cJSON_IsArray(vassals))
                return -EBADMSG;
        f = calloc(1, sizeof(TopFrame));
        if (!f)
                return -ENOMEM;
        cJSON_ArrayForEach(v, vassals)
                n++;
        f->rows = calloc(MAX(n, 1u), sizeof(TopRow));
        if (!f->rows)
                return -ENOMEM;
        /* Elements that are not objects are not vassals: left out. */
        cJSON_ArrayForEach(v, vassals)
                if (cJSON_IsObject(v) && f->n < n) {
                        row_read(&f->rows[f->n], v, f->n, now);
                        f->n++;
                }
        f->now = now;
        f->wall = wall;
        f->reply = reply; /* last: a failure above leaves the reply to the caller */
        *ret = TAKE_PTR(f);
        return 0;
}

TopFrame *top_frame_free(TopFrame *f) {
        if (!f)
                return NULL;
        cJSON_Delete(f->reply);
        free(f->rows);
        free(f);
        return NULL;
}

/* Rows by name, for the lookup of the previous frame's row. */
static int compare_names(const void *a, const void *b) {
        const TopRow *x = *(const TopRow *const *) a, *y = *(const TopRow *const *) b;
        return strcmp(x->name, y->name);
}

static const TopRow *row_find(const TopRow *const *by_name, size_t n, const TopFrame *prev,
                              const char *name) {
        TopRow key = { .name = name };
        const TopRow *k = &key, *const *hit;

        if (!name)
                return NULL;
        if (!by_name) { /* out of memory for the index: the long way */
                for (size_t i = 0; i < prev->n; i++)
                        if (streq_ptr(prev->rows[i].name, name))
                                return &prev->rows[i];
                return NULL;
        }
        hit = bsearch(&k, by_name, n, sizeof(*by_name), compare_names);
        return hit ? *hit : NULL;
}

/* A counter's rate between two reports span seconds apart; a counter that went down (a new
 * process) counted from zero: its new value is the count. */
static double counter_rate(double cur, double prev, double span, bool restarted) {
        if (!isfinite(cur) || !(span > 0))
                return NAN;
        if (restarted)
                return cur / span;
        return isfinite(prev) ? (cur - prev) / span : NAN;
}

static bool went_down(double cur, double prev) {
        return isfinite(cur) && isfinite(prev) && cur < prev;
}

static void row_rates(TopRow *c, const TopRow *p) {
        bool restarted;
        double span;

        c->rps = c->eps = NAN;
        if (!p || !isfinite(c->report) || !isfinite(p->report))
                return;
        restarted = (isfinite(c->pid) && isfinite(p->pid) && c->pid != p->pid) ||
                    went_down(c->requests, p->requests) || went_down(c->errors, p->errors);
        span = c->report - p->report;
        if (!restarted && span < TOP_SPAN_MIN) {
                /* A report that lacks a counter the other has is a new base. */
                if (isfinite(c->requests) != isfinite(p->requests) ||
                    isfinite(c->errors) != isfinite(p->errors))
                        return;
                /* No newer report: keep the rates, and the older report as the base, so the
                 * next rate spans from it. */
                c->rps = p->rps;
                c->eps = p->eps;
                c->requests = p->requests;
                c->errors = p->errors;
                c->report = p->report;
                return;
        }
        if (span < TOP_SPAN_MIN)
                return; /* a new process that just reported: a rate from the next frame */
        c->rps = counter_rate(c->requests, p->requests, span, restarted);
        c->eps = counter_rate(c->errors, p->errors, span, restarted);
}

void top_frame_rates(TopFrame *cur, const TopFrame *prev) {
        _cleanup_free_ const TopRow **by_name = NULL;
        size_t n = 0;

        if (prev && prev->n > 0) {
                by_name = calloc(prev->n, sizeof(*by_name));
                for (size_t i = 0; by_name && i < prev->n; i++)
                        if (prev->rows[i].name)
                                by_name[n++] = &prev->rows[i];
                if (by_name)
                        qsort(by_name, n, sizeof(*by_name), compare_names);
        }
        for (size_t i = 0; i < cur->n; i++)
                row_rates(&cur->rows[i],
                          prev ? row_find(by_name, n, prev, cur->rows[i].name) : NULL);
}

/* Larger first, unknown last. */
static int compare_desc(double a, double b) {
        bool ka = isfinite(a), kb = isfinite(b);

        if (ka != kb)
                return ka ? -1 : 1;
        if (!ka || a == b)
                return 0;
        return a > b ? -1 : 1;
}

static double sort_value(const TopRow *r, TopSort key) {
        switch (key) {
        case TOP_SORT_RPS:
                return r->rps;
        case TOP_SORT_LATENCY:
                return isfinite(r->p99_ms) ? r->p99_ms : r->avg_ms;
        case TOP_SORT_MEMORY:
                return r->rss;
        case TOP_SORT_CPU:
                return r->cpu;
        default:
                return NAN;
        }
}

static int compare_rows(const void *a, const void *b, void *userdata) {
        const TopRow *x = a, *y = b;
        TopSort key = *(const TopSort *) userdata;
        int c = 0;

        if (key != TOP_SORT_NAME)
                c = compare_desc(sort_value(x, key), sort_value(y, key));
        if (c == 0 && (x->name || y->name)) /* nameless last */
                c = !x->name ? 1 : !y->name ? -1 : strcmp(x->name, y->name);
        if (c == 0)
                c = x->index < y->index ? -1 : x->index > y->index;
        return c;
}

void top_frame_sort(TopFrame *f, TopSort key) {
        if (f->n > 1)
                qsort_r(f->rows, f->n, sizeof(TopRow), compare_rows, &key);
}

/* ---- text ---- */

/* s made safe for a terminal into buf: control characters '?', only the first line, cut to
 * max_columns with "..." (format_clean_line()); "-" for NULL. */
static char *clean_into(const char *s, size_t max_columns, char *buf, size_t size) {
        _cleanup_free_ char *clean = format_clean_line(s ? s : "-", max_columns);

        (void) snprintf(buf, size, "%s", clean ? clean : "?");
        return buf;
}

/* Rates and milliseconds: more decimals for small numbers. */
static char *format_decimal(double v, char *buf, size_t size) {
        if (!isfinite(v) || v < 0)
                (void) snprintf(buf, size, "-");
        else if (v == 0)
                (void) snprintf(buf, size, "0");
        else if (v < 10)
                (void) snprintf(buf, size, "%.2f", v);
        else if (v < 1000)
                (void) snprintf(buf, size, "%.1f", v);
        else
                (void) snprintf(buf, size, "%.0f", v);
        return buf;
}

static char *format_count(double v, char *buf, size_t size) {
        if (!isfinite(v) || v < 0)
                (void) snprintf(buf, size, "-");
        else
                (void) snprintf(buf, size, "%.0f", trunc(v));
        return buf;
}

/* Bytes in binary units: "812B", "4.0K", "61.2M", "1.5G", "120G". */
static char *format_bytes(double v, char *buf, size_t size) {
        static const char units[] = "KMGTPE";
        size_t u = 0;

        if (!isfinite(v) || v < 0) {
                (void) snprintf(buf, size, "-");
                return buf;
        }
        if (v < 1024) {
                (void) snprintf(buf, size, "%.0fB", v);
                return buf;
        }
        v /= 1024;
        while (v >= 1024 && u + 1 < strlen(units)) {
                v /= 1024;
                u++;
        }
        (void) snprintf(buf, size, v < 100 ? "%.1f%c" : "%.0f%c", v, units[u]);
        return buf;
}

enum {
        COL_NAME,
        COL_STATE,
        COL_PID,
        COL_WORKERS,
        COL_RPS,
        COL_AVG,
        COL_P99,
        COL_ERR,
        COL_RSS,
        COL_CPU,
        COL_LQ,
        COL_UPTIME,
        _COL_MAX,
};

static const struct {
        const char *header;
        bool left;
} columns[_COL_MAX] = {
        [COL_NAME] = { "NAME", true }, [COL_STATE] = { "STATE", true },
        [COL_PID] = { "PID", false },  [COL_WORKERS] = { "WORKERS", false },
        [COL_RPS] = { "RPS", false },  [COL_AVG] = { "AVG-MS", false },
        [COL_P99] = { "P99-MS", false }, [COL_ERR] = { "ERR/s", false },
        [COL_RSS] = { "RSS", false },  [COL_CPU] = { "CPU%", false },
        [COL_LQ] = { "LQ", false },    [COL_UPTIME] = { "UPTIME", false },
};

typedef char Cells[_COL_MAX][TOP_CELL_MAX];

static void row_cells(const TopRow *r, Cells cells) {
        char buf[TOP_CELL_MAX], busy[32], total[32];

        clean_into(r->name, TOP_TEXT_COLUMNS, cells[COL_NAME], TOP_CELL_MAX);
        clean_into(format_state(r->vassal, buf, sizeof(buf)), TOP_TEXT_COLUMNS, cells[COL_STATE],
                   TOP_CELL_MAX);
        format_count(r->pid, cells[COL_PID], TOP_CELL_MAX);
        if (isfinite(r->busy) || isfinite(r->total))
                (void) snprintf(cells[COL_WORKERS], TOP_CELL_MAX, "%s/%s",
                                format_count(r->busy, busy, sizeof(busy)),
                                format_count(r->total, total, sizeof(total)));
        else
                (void) snprintf(cells[COL_WORKERS], TOP_CELL_MAX, "-");
        format_decimal(r->rps, cells[COL_RPS], TOP_CELL_MAX);
        format_decimal(r->avg_ms, cells[COL_AVG], TOP_CELL_MAX);
        format_decimal(r->p99_ms, cells[COL_P99], TOP_CELL_MAX);
        format_decimal(r->eps, cells[COL_ERR], TOP_CELL_MAX);
        format_bytes(r->rss, cells[COL_RSS], TOP_CELL_MAX);
        if (isfinite(r->cpu))
                (void) snprintf(cells[COL_CPU], TOP_CELL_MAX, "%.1f", r->cpu);
        else
                (void) snprintf(cells[COL_CPU], TOP_CELL_MAX, "-");
        format_count(r->listen_queue, cells[COL_LQ], TOP_CELL_MAX);
        format_duration(r->uptime, cells[COL_UPTIME], TOP_CELL_MAX);
}

/* Output cut to the layout: each line to width columns, no more than height lines. */
typedef struct Printer {
        FILE *out;
        const TopLayout *layout;
        size_t lines;
} Printer;

static void emit(Printer *p, const char *line) {
        size_t cols = 0, i = 0;

        if (p->layout->height > 0 && p->lines >= p->layout->height)
                return;
        for (; line[i]; i++)
                if (((unsigned char) line[i] & 0xC0) != 0x80 && p->layout->width > 0 &&
                    cols++ >= p->layout->width)
                        break;
        /* No blanks at the end of a line. */
        while (i > 0 && line[i - 1] == ' ')
                i--;
        fwrite(line, 1, i, p->out);
        fputc('\n', p->out);
        p->lines++;
}

static void emit_row(Printer *p, const char *const cells[_COL_MAX], const size_t width[_COL_MAX]) {
        char line[TOP_LINE_MAX];
        size_t len = 0;

        for (size_t c = 0; c < _COL_MAX && len < sizeof(line); c++) {
                int pad = (int) (width[c] - MIN(width[c], format_columns(cells[c])));
                int k = snprintf(line + len, sizeof(line) - len, "%s%*s%s%*s", c > 0 ? "  " : "",
                                 columns[c].left ? 0 : pad, "", cells[c],
                                 columns[c].left ? pad : 0, "");
                if (k < 0)
                        break;
                len += (size_t) k;
        }
        line[MIN(len, sizeof(line) - 1)] = '\0';
        emit(p, line);
}

void top_frame_print(FILE *out, const TopFrame *f, TopSort sort, const TopLayout *layout) {
        static const TopLayout unlimited = {};
        Printer p = { .out = out, .layout = layout ? layout : &unlimited };
        char line[TOP_LINE_MAX], clock[32] = "--:--:--", rps[32], rss[32];
        double total_rps = NAN, total_rss = NAN;
        size_t running = 0, width[_COL_MAX], shown = f->n, head;
        const char *headers[_COL_MAX];
        struct tm tm;
        Cells cells;

        for (size_t i = 0; i < f->n; i++) {
                const TopRow *r = &f->rows[i];
                running += r->running;
                if (isfinite(r->rps))
                        total_rps = (isfinite(total_rps) ? total_rps : 0) + r->rps;
                if (isfinite(r->rss))
                        total_rss = (isfinite(total_rss) ? total_rss : 0) + r->rss;
        }
        if (localtime_r(&f->wall, &tm))
                (void) strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
        (void) snprintf(line, sizeof(line),
                        "top - %s  vassals: %zu, running: %zu  rps: %s  rss: %s  sort: %s", clock,
                        f->n, running, format_decimal(total_rps, rps, sizeof(rps)),
                        format_bytes(total_rss, rss, sizeof(rss)),
                        strempty(top_sort_to_string(sort)));
        emit(&p, line);
        if (p.layout->keys)
                emit(&p, "keys: q quit, s refresh, sort by r rps, l latency, m memory, c cpu, "
                         "n name");
        emit(&p, "");
        if (f->n == 0) {
                emit(&p, "no vassals");
                return;
        }

        /* Rows that fit under the header and the column titles; the last line that fits
         * says how many more there are. */
        head = p.lines + 1;
        if (p.layout->height > 0) {
                size_t room = p.layout->height > head ? p.layout->height - head : 0;
                if (f->n > room)
                        shown = room > 0 ? room - 1 : 0;
        }

        for (size_t c = 0; c < _COL_MAX; c++) {
                headers[c] = columns[c].header;
                width[c] = strlen(headers[c]);
        }
        for (size_t i = 0; i < shown; i++) {
                row_cells(&f->rows[i], cells);
                for (size_t c = 0; c < _COL_MAX; c++)
                        width[c] = MAX(width[c], format_columns(cells[c]));
        }
        emit_row(&p, headers, width);
        for (size_t i = 0; i < shown; i++) {
                const char *row[_COL_MAX];
                row_cells(&f->rows[i], cells);
                for (size_t c = 0; c < _COL_MAX; c++)
                        row[c] = cells[c];
                emit_row(&p, row, width);
        }
        if (shown < f->n) {
                (void) snprintf(line, sizeof(line), "(%zu more)", f->n - shown);
                emit(&p, line);
        }
}

/* A number, or null when unknown. False on OOM. */
static bool add_number(cJSON *o, const char *key, double v) {
        return isfinite(v) ? cJSON_AddNumberToObject(o, key, v) != NULL
                           : cJSON_AddNullToObject(o, key) != NULL;
}

static bool add_string(cJSON *o, const char *key, const char *s) {
        return s ? cJSON_AddStringToObject(o, key, s) != NULL
                 : cJSON_AddNullToObject(o, key) != NULL;
}

static cJSON *row_json(const TopRow *r) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *w;

        if (!o || !add_string(o, "name", r->name) ||
            !add_string(o, "state", string_at(r->vassal, "state")) ||
            !add_number(o, "pid", r->pid))
                return NULL;
        if (isfinite(r->busy) || isfinite(r->total)) {
                w = cJSON_AddObjectToObject(o, "workers");
                if (!w || !add_number(w, "busy", r->busy) || !add_number(w, "total", r->total))
                        return NULL;
        } else if (!cJSON_AddNullToObject(o, "workers"))
                return NULL;
        if (!add_number(o, "rps", r->rps) || !add_number(o, "avg_rt_ms", r->avg_ms) ||
            !add_number(o, "p99_rt_ms", r->p99_ms) || !add_number(o, "errors_per_sec", r->eps) ||
            !add_number(o, "rss", r->rss) || !add_number(o, "cpu", r->cpu) ||
            !add_number(o, "listen_queue", r->listen_queue) ||
            !add_number(o, "uptime", r->uptime))
                return NULL;
        return TAKE_PTR(o);
}

cJSON *top_frame_json(const TopFrame *f, TopSort sort) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        double total_rps = NAN, total_rss = NAN;
        size_t running = 0;
        cJSON *rows;

        for (size_t i = 0; i < f->n; i++) {
                running += f->rows[i].running;
                if (isfinite(f->rows[i].rps))
                        total_rps = (isfinite(total_rps) ? total_rps : 0) + f->rows[i].rps;
                if (isfinite(f->rows[i].rss))
                        total_rss = (isfinite(total_rss) ? total_rss : 0) + f->rows[i].rss;
        }
        if (!o || !cJSON_AddNumberToObject(o, "time", (double) f->wall) ||
            !cJSON_AddNumberToObject(o, "vassals", (double) f->n) ||
            !cJSON_AddNumberToObject(o, "running", (double) running) ||
            !add_number(o, "rps", total_rps) || !add_number(o, "rss", total_rss) ||
            !add_string(o, "sort", top_sort_to_string(sort)))
                return NULL;
        rows = cJSON_AddArrayToObject(o, "rows");
        if (!rows)
                return NULL;
        for (size_t i = 0; i < f->n; i++) {
                cJSON *r = row_json(&f->rows[i]);
                if (!r)
                        return NULL;
                if (!cJSON_AddItemToArray(rows, r)) {
                        cJSON_Delete(r);
                        return NULL;
                }
        }
        return TAKE_PTR(o);
}

