/* SPDX-License-Identifier: MIT */
#include "cheaper.h"
#include "macro.h"

void cheaper_reset(CheaperWorker *w, bool wanted, uint64_t requests, uint64_t now) {
        *w = (CheaperWorker) {
                .wanted = wanted,
                .requests = requests,
                .idle_since = now,
        };
}

void cheaper_observe(CheaperWorker *w, bool busy, uint64_t requests, uint64_t now) {
        /* Busy now, or served something since the last sample (between two samples: a burst
         * of short requests looks idle at each sample, yet is no idle worker). */
        if (busy || requests != w->requests)
                w->idle_since = now;
        w->busy = busy;
        w->requests = requests;
}

CheaperAction cheaper_decide(const CheaperParams *p, const CheaperWorker *w, size_t n,
                             uint64_t now) {
        size_t wanted = 0, idle = 0, oldest = SIZE_MAX;
        uint64_t last_active = 0;

        for (size_t i = 0; i < n; i++) {
                if (!w[i].wanted)
                        continue;
                wanted++;
                if (w[i].busy) {
                        last_active = now;
                        continue;
                }
                idle++;
                last_active = MAX(last_active, w[i].idle_since);
                /* The longest idle; among equals the highest id, as uWSGI stops its last. */
                if (now - w[i].idle_since >= p->interval &&
                    (oldest == SIZE_MAX || w[i].idle_since <= w[oldest].idle_since))
                        oldest = i;
        }

        if (wanted == 0)
                return (CheaperAction) { .verdict = CHEAPER_NOTHING }; /* asleep (`idle`) */
        if (p->idle > 0 && idle == wanted && now - last_active >= p->idle)
                return (CheaperAction) { .verdict = CHEAPER_SLEEP };
        size_t max = MIN(p->max, n);
        if (idle == 0 && wanted < max) {
                /* An empty vassal (a wanted worker that died and waits for its respawn is
                 * still wanted) spawns as a loaded one does. */
                size_t k = MIN(MAX(p->step, (size_t) 1), max - wanted);
                return (CheaperAction) { .verdict = CHEAPER_SPAWN, .count = k };
        }
        if (idle > 1 && wanted > p->min && oldest != SIZE_MAX)
                return (CheaperAction) { .verdict = CHEAPER_RETIRE, .index = oldest };
        return (CheaperAction) { .verdict = CHEAPER_NOTHING };
}

static const char *const verdict_names[_CHEAPER_VERDICT_MAX] = {
        [CHEAPER_NOTHING] = "nothing",
        [CHEAPER_SPAWN] = "spawn",
        [CHEAPER_RETIRE] = "retire",
        [CHEAPER_SLEEP] = "sleep",
};

const char *cheaper_verdict_to_string(CheaperVerdict v) {
        return v >= 0 && v < _CHEAPER_VERDICT_MAX ? verdict_names[v] : NULL;
}
