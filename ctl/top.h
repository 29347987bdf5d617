/* SPDX-License-Identifier: MIT */
#pragma once

/* emperorctl top: the fleet's live numbers, refreshed. A frame is one status reply
 * (lib/proto.h) read into rows; rates come from the counters of two frames; a frame prints as
 * text (a header line, then a table) or as one JSON line. These parts do no I/O but on the
 * FILE they are given, and are unit-tested on parsed replies (tests/unit/test-ctl-top.c);
 * ctl_cmd_top() in top.c adds the polling, the terminal and the keyboard.
 *
 * The reply comes from another program: any field may be missing, null or of the wrong type,
 * and prints as "-" (format.h). */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <cJSON.h>

typedef enum TopSort {
        TOP_SORT_RPS,     /* requests per second, most first */
        TOP_SORT_LATENCY, /* p99 response time, else the average, slowest first */
        TOP_SORT_MEMORY,  /* rss, largest first */
        TOP_SORT_CPU,     /* cpu, busiest first */
        TOP_SORT_NAME,    /* name, a to z */
        _TOP_SORT_MAX,
        _TOP_SORT_INVALID = -EINVAL,
} TopSort;

const char *top_sort_to_string(TopSort s);
TopSort top_sort_from_string(const char *s);
/* The terminal's key for a sort: 'r', 'l', 'm', 'c', 'n' (either case). */
TopSort top_sort_from_key(int key);

#define TOP_DELAY_DEFAULT 2.0
#define TOP_DELAY_MIN 0.1
#define TOP_DELAY_MAX 86400.0
#define TOP_COUNT_MAX 1000000000u

/* -d: seconds, fractions allowed, TOP_DELAY_MIN to TOP_DELAY_MAX. -EINVAL when s is not a
 * plain decimal number, -ERANGE out of bounds. */
int top_parse_delay(const char *s, double *ret);
/* -n: a positive integer up to TOP_COUNT_MAX. -EINVAL when not digits, -ERANGE for 0 or
 * more than the maximum. */
int top_parse_count(const char *s, unsigned *ret);

/* One vassal of a frame. Numbers are NaN when the reply does not have them as numbers >= 0. */
typedef struct TopRow {
        const cJSON *vassal; /* its object in the frame's reply */
        const char *name;    /* NULL: missing or not a string */
        size_t index;        /* its place in the reply: the last tie-breaker of the sort */
        bool running;
        double pid, busy, total;
        double requests, errors; /* cumulative, as the vassal reported them */
        /* When the vassal reported those counters, on the frame's clock: the frame's time less
         * the reply's "stats_age" (the frame's time when the reply has no age). */
        double report;
        double rps, eps; /* requests and errors per second; NaN until two reports */
        double avg_ms, p99_ms, rss, cpu, listen_queue, uptime;
} TopRow;

typedef struct TopFrame {
        cJSON *reply; /* owned: the rows point into it */
        TopRow *rows;
        size_t n;
        double now; /* CLOCK_MONOTONIC seconds when the reply came */
        time_t wall;
} TopFrame;

/* Reads a status reply into a new frame, which owns reply on success (and only then).
 * -EBADMSG when the reply has no "vassals" array, -ENOMEM. */
int top_frame_new(cJSON *reply, double now, time_t wall, TopFrame **ret);
TopFrame *top_frame_free(TopFrame *f);
static inline void top_frame_freep(TopFrame **f) {
        top_frame_free(*f);
}

/* Fills each row's rps and eps from the row of the same name in prev (NULL: none, every
 * rate unknown). Rates are taken between the two reports, not the two polls: a row whose
 * report is no newer than prev's (the vassal reports every second, top may poll faster)
 * keeps prev's rates and prev's counters as the base for the next frame. A vassal that
 * restarted (another pid, or counters that went down) counted from zero since: its rate is
 * the new count over the span, never negative. */
void top_frame_rates(TopFrame *cur, const TopFrame *prev);

/* Sorts the rows by key: numbers largest first, unknown (NaN) last; ties by name, then by
 * the reply's order. */
void top_frame_sort(TopFrame *f, TopSort key);

typedef struct TopLayout {
        size_t width;  /* columns a line may take; 0: no limit */
        size_t height; /* lines; 0: no limit. Rows that do not fit end in "(N more)". */
        bool keys;     /* a line of key help under the header (the terminal) */
} TopLayout;

/* The frame as text: "top - 12:00:00  vassals: 3, running: 2  rps: 812.4  rss: 61.2M
 * sort: rps", a blank line, then NAME STATE PID WORKERS RPS AVG-MS P99-MS ERR/s RSS CPU% LQ
 * UPTIME, one row per vassal in the frame's order. Every line ends in '\n'; nothing but
 * printable text. */
void top_frame_print(FILE *out, const TopFrame *f, TopSort sort, const TopLayout *layout);

/* The frame as one JSON object (--json): {"time","vassals","running","rps","rss","sort",
 * "rows":[{"name","state","pid","workers":{"busy","total"},"rps","avg_rt_ms","p99_rt_ms",
 * "errors_per_sec","rss","cpu","listen_queue","uptime"}]}, null for unknown numbers. NULL on
 * OOM. */
cJSON *top_frame_json(const TopFrame *f, TopSort sort);
