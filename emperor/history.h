/* SPDX-License-Identifier: MIT */
#pragma once

/* The fleet's history: every stats interval the whole fleet's samples go to the store in one
 * transaction (a timer on the manager's loop), and every lifecycle step of a vassal is an
 * event row, written before the transition is acted on. The store itself is store.c. */

#include <stdint.h>

#include "instance.h"
#include "macro.h"
#include "manager.h"

typedef struct History History;

/* Opens the store in STATE_DIR and starts the stats timer (none with stats_interval 0). Fails
 * only for memory: a store that cannot be written now is retried by the store. */
int history_new(Manager *m, const ManagerOptions *o, History **ret);
History *history_free(History *h);

/* An event about a vassal (i NULL: about the emperor). NULL-safe on h. */
void history_event(History *h, const Instance *i, const char *kind, const char *fmt, ...)
        _printf_(4, 5);
/* The same for a vassal known by name only (one that died while no emperor watched it). */
void history_event_named(History *h, const char *name, const char *ini, const char *kind,
                         const char *fmt, ...) _printf_(5, 6);
/* A state transition, as instance_set_state() makes it; detail may be NULL. */
void history_transition(History *h, const Instance *i, InstanceState from, InstanceState to,
                        const char *detail);
/* How long the last stats tick took (µs), for measuring. */
uint64_t history_last_tick_usec(const History *h);
