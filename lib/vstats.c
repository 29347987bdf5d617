/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "macro.h"
#include "vstats.h"

/* A number >= 0 under key, else def. */
static double number(const cJSON *o, const char *key, double def) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsNumber(v) && v->valuedouble >= 0 ? v->valuedouble : def;
}

/* "rt_hist": {"le_us": [...], "counts": [...], "sum_us": N, "count": N}. */
static void decode_histogram(const cJSON *h, VassalStats *s) {
        const cJSON *le = cJSON_GetObjectItemCaseSensitive(h, "le_us");
        const cJSON *counts = cJSON_GetObjectItemCaseSensitive(h, "counts");
        size_t n = 0;

        s->n_hist = 0;
        if (!cJSON_IsArray(le) || !cJSON_IsArray(counts) ||
            cJSON_GetArraySize(le) != cJSON_GetArraySize(counts) ||
            cJSON_GetArraySize(le) > VSTATS_HIST_MAX)
                return;
        for (const cJSON *l = le->child, *c = counts->child; l && c; l = l->next, c = c->next) {
                s->hist_le_us[n] = cJSON_IsNumber(l) ? l->valuedouble : NAN;
                s->hist_counts[n] = cJSON_IsNumber(c) ? c->valuedouble : NAN;
                n++;
        }
        s->n_hist = n;
        s->hist_count = number(h, "count", 0);
        s->hist_sum_us = number(h, "sum_us", 0);
}

static void decode_measures(const cJSON *o, VassalMeasures *m) {
        *m = (VassalMeasures) { .p99_rt_ms = NAN, .cpu = NAN, .cpu_time_s = NAN };
        if (number(o, "p99_rt", -1) >= 0)
                m->p99_rt_ms = number(o, "p99_rt", 0) / 1000;
        if (number(o, "cpu", -1) >= 0)
                m->cpu = number(o, "cpu", 0);
        if (number(o, "cpu_time", -1) >= 0)
                m->cpu_time_s = number(o, "cpu_time", 0) / 1e6;
}

void vstats_set_measures(VassalStats *s, const VassalMeasures *m) {
        s->p99_rt_ms = m->p99_rt_ms;
        s->cpu = m->cpu;
        s->cpu_time_s = m->cpu_time_s;
}

int vstats_parse_measures(const char *text, size_t len, VassalMeasures *ret) {
        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_ParseWithLength(text, len);
        decode_measures(j, ret);
        return cJSON_IsObject(j) ? 0 : -EINVAL;
}

int vstats_from_json(const cJSON *stats, VassalStats *ret) {
        const cJSON *workers = cJSON_GetObjectItemCaseSensitive(stats, "workers"), *w;
        double rt_sum = 0, rt_n = 0;

        *ret = (VassalStats) { .p99_rt_ms = NAN, .cpu = NAN, .cpu_time_s = NAN };
        if (!cJSON_IsObject(stats) || !cJSON_IsArray(workers))
                return -EINVAL;
        ret->requests = (uint64_t) number(stats, "requests", 0);
        ret->exceptions = (uint64_t) number(stats, "exceptions", 0);
        /* "errors" (5xx responses and exceptions, each request once) is newer than the
         * vassal's "exceptions", which an older vassal's errors are limited to. */
        ret->errors = (uint64_t) number(stats, "errors", (double) ret->exceptions);
        ret->listen_queue = (uint64_t) number(stats, "listen_queue", 0);
        VassalMeasures m;
        decode_measures(stats, &m);
        vstats_set_measures(ret, &m);
        decode_histogram(cJSON_GetObjectItemCaseSensitive(stats, "rt_hist"), ret);
        const cJSON *log = cJSON_GetObjectItemCaseSensitive(stats, "log");
        /* Only an absolute path or none: a relative one would be read from the reader's own
         * directory, not the vassal's. */
        if (cJSON_IsString(log) && (!log->valuestring[0] || log->valuestring[0] == '/') &&
            !(ret->log_path = strdup(log->valuestring)))
                return -ENOMEM;

        int n = cJSON_GetArraySize(workers);
        if (n > 0 && !(ret->worker_pids = calloc(n, sizeof(pid_t))))
                return -ENOMEM;
        cJSON_ArrayForEach(w, workers) {
                const cJSON *st = cJSON_GetObjectItemCaseSensitive(w, "status");
                double rt = number(w, "avg_rt", 0); /* µs */
                /* Weighted by the requests the worker served since it was spawned: a slot keeps
                 * its predecessor's average across a respawn, and a worker that served nothing
                 * (idle since its spawn, or a respawn that has not served yet) is no part of
                 * the vassal's response time. An older vassal without delta_requests: each
                 * worker that has an average counts once. */
                double served = number(w, "delta_requests", rt > 0 ? 1 : 0);
                ret->worker_pids[ret->total++] = (pid_t) number(w, "pid", 0);
                ret->busy += cJSON_IsString(st) && streq(st->valuestring, "busy");
                ret->rss += (uint64_t) number(w, "rss", 0);
                ret->respawns += (uint64_t) number(w, "respawn_count", 0);
                ret->harakiris += (uint64_t) number(w, "harakiri_count", 0);
                if (rt > 0 && served > 0) {
                        rt_sum += rt * served;
                        rt_n += served;
                }
        }
        ret->avg_rt_ms = rt_n > 0 ? rt_sum / rt_n / 1000 : 0;
        return 0;
}

int vstats_parse(const char *text, size_t len, VassalStats *ret) {
        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_ParseWithLength(text, len);
        if (!j) {
                *ret = (VassalStats) { .p99_rt_ms = NAN, .cpu = NAN, .cpu_time_s = NAN };
                return -EINVAL;
        }
        return vstats_from_json(j, ret);
}

void vstats_done(VassalStats *s) {
        free(s->worker_pids);
        s->worker_pids = NULL;
        free(s->log_path);
        s->log_path = NULL;
}
