/* SPDX-License-Identifier: MIT */
#pragma once

/* The cheaper subsystem's decisions (uWSGI's adaptive worker count, algorithm "spare"), kept
 * apart from the master so a test drives them with made-up times: the master samples the
 * scoreboard every check interval (cheaper-overload seconds), feeds each worker's sample to
 * cheaper_observe() and asks cheaper_decide() what to do. Nothing here reads a clock, forks or
 * signals; the master does what the answer says.
 *
 * The rules, per check:
 *   - every wanted worker busy (none idle), fewer than max wanted: spawn `step` more (at most
 *     up to max);
 *   - more than one worker idle, more than min wanted: retire the one idle longest, if it was
 *     last seen active an interval ago or more (one per check, as uWSGI's spare stops one at
 *     a time);
 *   - `idle` set and no worker served anything for that long: stop them all (cheap mode).
 * A worker is busy while any of its threads or greenlets has a request in flight. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CheaperWorker {
        bool wanted;          /* not parked: running, starting or about to be respawned */
        bool busy;            /* a request in flight at the last sample */
        uint64_t requests;    /* its slot's finished requests at the last sample */
        uint64_t idle_since;  /* µs: the last sample that found it busy or having served more
                               * (or its reset): idle at most since then */
} CheaperWorker;

typedef struct CheaperParams {
        size_t min;           /* cheaper: never fewer wanted workers (but for `idle`) */
        size_t max;           /* processes */
        size_t step;          /* cheaper-step */
        uint64_t interval;    /* µs: cheaper-overload, the check interval */
        uint64_t idle;        /* µs: `idle`; 0: off */
} CheaperParams;

typedef enum CheaperVerdict {
        CHEAPER_NOTHING,
        CHEAPER_SPAWN,  /* spawn `count` parked workers */
        CHEAPER_RETIRE, /* stop worker `index` gracefully and park it */
        CHEAPER_SLEEP,  /* idle: stop every worker and wait for a connection */
        _CHEAPER_VERDICT_MAX,
        _CHEAPER_VERDICT_INVALID = -EINVAL,
} CheaperVerdict;

typedef struct CheaperAction {
        CheaperVerdict verdict;
        size_t count; /* CHEAPER_SPAWN */
        size_t index; /* CHEAPER_RETIRE */
} CheaperAction;

/* A worker (re)starts or is parked: it counts as idle from now, with nothing served yet. */
void cheaper_reset(CheaperWorker *w, bool wanted, uint64_t requests, uint64_t now);
/* One sample of a worker: busy now, and its slot's finished requests so far. */
void cheaper_observe(CheaperWorker *w, bool busy, uint64_t requests, uint64_t now);
/* What to do now, given the n workers' last samples. */
CheaperAction cheaper_decide(const CheaperParams *p, const CheaperWorker *w, size_t n,
                             uint64_t now);

const char *cheaper_verdict_to_string(CheaperVerdict v);
