/* SPDX-License-Identifier: MIT */
#pragma once

/* The one restart policy of every supervisor here (the emperor's vassals, the master's workers,
 * the vassal's exec programs): a process that dies on its own is started again
 *
 *   - at once if it lived at least BACKOFF_STABLE_USEC (a crash after a stable run is news,
 *     not a loop), but never sooner than BACKOFF_FLOOR_USEC after its previous start;
 *   - else after 2, 4, 8, 16, 32 s, then BACKOFF_MAX_USEC each time, for as long as it keeps
 *     dying young.
 *
 * Deaths the supervisor asked for (a stop, a reload, max-requests, harakiri) are not failures
 * and do not come here. s6-supervise's one-second floor and systemd's RestartSteps are the
 * models: one rule that an operator can learn once. */

#include <stdint.h>

#define BACKOFF_FLOOR_USEC (1000000ULL)
#define BACKOFF_STABLE_USEC (60ULL * 1000000ULL)
#define BACKOFF_MAX_USEC (60ULL * 1000000ULL)

typedef struct Backoff {
        unsigned failures; /* deaths in a row, each within BACKOFF_STABLE_USEC of its start */
} Backoff;

/* A death after the process lived lived_usec: returns how long to wait before the next
 * start (0: now) and counts the failure. */
uint64_t backoff_next(Backoff *b, uint64_t lived_usec);
/* Forgets the failures: an operator's start, or a changed config, is a fresh beginning. */
static inline void backoff_reset(Backoff *b) {
        b->failures = 0;
}
