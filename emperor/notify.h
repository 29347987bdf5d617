/* SPDX-License-Identifier: MIT */
#pragma once

/* What a vassal says on the notify socket (sd_notify(3): newline-separated KEY=VALUE lines),
 * read into calls: READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1, WATCHDOG_USEC=, STATUS=, our own X_STATS= (its stats, vstats.h), X_STATS_SAME= (vassal/report.h) and X_EVENT=
 * (its workers' recycles, harakiris and deaths, its log rotations: vassal/master.c). Anything
 * else is ignored. */

#include <stddef.h>
#include <stdint.h>

#include "vstats.h"

typedef struct NotifyHandler {
        void (*ready)(void *userdata);
        void (*status)(void *userdata, const char *status, size_t len);
        /* kind: one the store knows (store.h), so a static string; detail bounded. */
        void (*event)(void *userdata, const char *kind, const char *detail, size_t len);
        /* Decoded; the callee takes *vs over. */
        void (*stats)(void *userdata, VassalStats *vs);
        /* X_STATS_SAME=: the stats last given are unchanged but for these measures. */
        void (*measures)(void *userdata, const VassalMeasures *m);
        /* RELOADING=1 ("reloading"), STOPPING=1 ("stopping"): what the vassal is doing on its
         * own; READY=1 ends it. */
        void (*phase)(void *userdata, const char *phase);
        /* WATCHDOG=1 (usec 0), WATCHDOG_USEC=N (the period it promises from now on). */
        void (*watchdog)(void *userdata, uint64_t usec);
} NotifyHandler;

void notify_parse(const char *msg, size_t len, const NotifyHandler *h, void *userdata);
