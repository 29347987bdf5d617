/* SPDX-License-Identifier: MIT */
/* A vassal's X_STATS object (vassal/scoreboard.h) as one row of the store (store.h). */
#include <math.h>
#include <stdint.h>

#include <cJSON.h>

#include "jsonutil.h"
#include "macro.h"
#include "store.h"

/* A number >= 0 under key, else def. */
static double json_number(const cJSON *o, const char *key, double def) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsNumber(v) && v->valuedouble >= 0 ? v->valuedouble : def;
}

bool store_sample_from_stats(const cJSON *stats, StoreSample *ret) {
        const cJSON *workers = cJSON_GetObjectItemCaseSensitive(stats, "workers"), *w;
        double rt_sum = 0;
        unsigned rt_n = 0;

        if (!cJSON_IsObject(stats) || !cJSON_IsArray(workers))
                return false;
        ret->requests = (uint64_t) json_number(stats, "requests", 0);
        /* "errors" (5xx responses and exceptions, each request once) is newer than the
         * vassal's "exceptions", which an older vassal's errors are limited to. */
        ret->errors = (uint64_t) json_number(stats, "errors",
                                             json_number(stats, "exceptions", 0));
        ret->listen_queue = (uint64_t) json_number(stats, "listen_queue", 0);
        ret->p99_rt_ms = json_number(stats, "p99_rt", -1) >= 0 ? json_number(stats, "p99_rt", 0) / 1000
                                                               : NAN;
        ret->cpu = json_number(stats, "cpu", -1) >= 0 ? json_number(stats, "cpu", 0) : NAN;
        ret->busy = ret->total = 0;
        ret->rss = ret->respawns = ret->harakiris = 0;
        cJSON_ArrayForEach(w, workers) {
                const cJSON *st = cJSON_GetObjectItemCaseSensitive(w, "status");
                double rt = json_number(w, "avg_rt", 0); /* µs */
                ret->total++;
                ret->busy += cJSON_IsString(st) && streq(st->valuestring, "busy");
                ret->rss += (uint64_t) json_number(w, "rss", 0);
                ret->respawns += (uint64_t) json_number(w, "respawn_count", 0);
                ret->harakiris += (uint64_t) json_number(w, "harakiri_count", 0);
                if (rt > 0) {
                        rt_sum += rt;
                        rt_n++;
                }
        }
        ret->avg_rt_ms = rt_n ? rt_sum / rt_n / 1000 : 0;
        return true;
}
