/* SPDX-License-Identifier: MIT */
/* A vassal's stats report (lib/vstats.h) as one row of the store (store.h). */
#include <stdint.h>

#include <cJSON.h>

#include "store.h"
#include "vstats.h"

void store_sample_from_vstats(const VassalStats *vs, StoreSample *ret) {
        ret->requests = vs->requests;
        ret->errors = vs->errors;
        ret->listen_queue = vs->listen_queue;
        ret->p99_rt_ms = vs->p99_rt_ms;
        ret->cpu = vs->cpu;
        ret->busy = vs->busy;
        ret->total = vs->total;
        ret->rss = vs->rss;
        ret->respawns = vs->respawns;
        ret->harakiris = vs->harakiris;
        ret->avg_rt_ms = vs->avg_rt_ms;
}

bool store_sample_from_stats(const cJSON *stats, StoreSample *ret) {
        VassalStats vs;
        int r = vstats_from_json(stats, &vs);
        if (r == 0)
                store_sample_from_vstats(&vs, ret);
        vstats_done(&vs);
        return r == 0;
}
