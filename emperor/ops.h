/* SPDX-License-Identifier: MIT */
#pragma once

/* The real ManagerOps (manager.h): children are fork+exec'd by spawn.c and watched by sd-event
 * child sources (pidfds: a signal never reaches a recycled pid), timers are one-shot sd-event
 * timers on the manager's loop, the clock is CLOCK_MONOTONIC. */

#include "manager.h"

/* What a captured child (a `vassal --check`) may print before we stop listening. */
#define OPS_OUTPUT_MAX 8192

extern const ManagerOps ops_system;
