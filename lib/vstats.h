/* SPDX-License-Identifier: MIT */
#pragma once

/* A vassal's stats report (X_STATS=, the same object its stats server serves, built by
 * vassal/scoreboard.c) decoded once into what a supervisor reads: the emperor decodes each
 * report as it arrives and keeps this, not the JSON tree, for its store, status and metrics. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cJSON.h>

#define VSTATS_HIST_MAX 64

/* What the master measured over its last interval ("p99_rt", "cpu", "cpu_time"): all that
 * changes in an idle vassal's report, sent alone as X_STATS_SAME= once the emperor holds the
 * rest (vassal/report.h). */
typedef struct VassalMeasures {
        double p99_rt_ms;  /* NaN: none (idle, or not measured) */
        double cpu;        /* % of one core; NaN: unknown */
        double cpu_time_s; /* the master's and its workers' CPU time; NaN: unknown */
} VassalMeasures;

typedef struct VassalStats {
        uint64_t requests;
        uint64_t exceptions;
        uint64_t errors; /* 5xx responses and exceptions; an older vassal: its exceptions */
        uint64_t listen_queue;
        double p99_rt_ms;  /* over the last interval; NaN: none (idle, or not measured) */
        double cpu;        /* % of one core over the last interval; NaN: unknown */
        double cpu_time_s; /* the master's and its workers' CPU time; NaN: unknown */
        double avg_rt_ms;  /* the workers' averages, weighted by the requests each served
                            * since its spawn; 0: none served */
        uint64_t rss;      /* the workers' sum, bytes */
        unsigned busy, total;
        uint64_t respawns;
        uint64_t harakiris;
        /* The response-time histogram as sent (cumulative counts; bounds in µs), unchecked:
         * n_hist 0 when there is none or it is malformed (lengths differ, too long). */
        size_t n_hist;
        double hist_le_us[VSTATS_HIST_MAX];
        double hist_counts[VSTATS_HIST_MAX];
        double hist_count, hist_sum_us;
        pid_t *worker_pids; /* n_workers = total of them, in the vassal's order */
        /* The log file the vassal writes, absolute; "": its stderr (the emperor's journal);
         * NULL: not said (a vassal older than the field). */
        char *log_path;
} VassalStats;

/* Decodes a stats object: 0, -EINVAL when it is not one (no "workers" array), -ENOMEM. ret
 * is filled either way, to be released with vstats_done(). */
int vstats_from_json(const cJSON *stats, VassalStats *ret);
/* The same from the report's text. */
int vstats_parse(const char *text, size_t len, VassalStats *ret);
void vstats_done(VassalStats *s);
/* Decodes an X_STATS_SAME= object: 0, or -EINVAL when it is not an object. */
int vstats_parse_measures(const char *text, size_t len, VassalMeasures *ret);
/* Puts the measures into s, which keeps the rest. */
void vstats_set_measures(VassalStats *s, const VassalMeasures *m);
