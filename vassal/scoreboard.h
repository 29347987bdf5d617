/* SPDX-License-Identifier: MIT */
#pragma once

/* The scoreboard: one slot per worker in a MAP_SHARED anonymous region the master makes before
 * it forks. A worker updates its own slot on every request with a few relaxed atomic adds (the
 * threads of one worker share the slot); the master reads all of them for the stats it sends
 * (X_STATS=, STATUS=) and resets a slot when its worker is replaced. Counters are cumulative
 * over the slot's life, across respawns, so a reader's rates never go negative.
 *
 * Readers see each counter whole but not a consistent snapshot of all of them: fine for
 * statistics, and nothing else reads them. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ScoreboardSlot {
        _Atomic int32_t pid;           /* 0: no process */
        _Atomic uint32_t busy;         /* requests in flight */
        _Atomic uint64_t requests;     /* finished requests */
        _Atomic uint64_t exceptions;   /* requests whose app raised */
        _Atomic uint64_t tx;           /* response body bytes */
        _Atomic uint64_t running_time; /* µs spent in requests, summed */
        _Atomic uint64_t avg_rt;       /* µs, moving average over the last ~8 requests */
        _Atomic int64_t request_start; /* µs CLOCK_MONOTONIC: the latest request's start */
        _Atomic uint64_t respawn_count;
        _Atomic int64_t last_spawn;    /* seconds since the epoch */
} __attribute__((aligned(64))) ScoreboardSlot;

typedef struct Scoreboard Scoreboard;

/* Maps a scoreboard of n_slots zeroed slots. Returns 0 or -errno. */
int scoreboard_new(size_t n_slots, Scoreboard **ret);
Scoreboard *scoreboard_free(Scoreboard *sb);
size_t scoreboard_size(const Scoreboard *sb);
/* Slot id (1-based, as worker ids), or NULL when out of range. */
ScoreboardSlot *scoreboard_slot(Scoreboard *sb, size_t id);

/* The master: a process takes the slot (the respawn count is the master's), or left it. */
void scoreboard_slot_spawned(ScoreboardSlot *s, pid_t pid, uint64_t respawn_count);
void scoreboard_slot_exited(ScoreboardSlot *s);

/* A worker, around each request: cheap enough for the hot path. */
static inline void scoreboard_request_begin(ScoreboardSlot *s, int64_t now_usec) {
        atomic_fetch_add_explicit(&s->busy, 1, memory_order_relaxed);
        atomic_store_explicit(&s->request_start, now_usec, memory_order_relaxed);
}

static inline void scoreboard_request_end(ScoreboardSlot *s, uint64_t rt_usec, uint64_t tx,
                                          bool exception) {
        atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->tx, tx, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->running_time, rt_usec, memory_order_relaxed);
        if (exception)
                atomic_fetch_add_explicit(&s->exceptions, 1, memory_order_relaxed);
        /* avg += (rt - avg) / 8 as a load and a store, not a CAS loop: two threads finishing
         * at once may lose one sample, which an average can afford. */
        uint64_t avg = atomic_load_explicit(&s->avg_rt, memory_order_relaxed);
        atomic_store_explicit(&s->avg_rt, avg ? (avg * 7 + rt_usec + 4) / 8 : rt_usec,
                              memory_order_relaxed);
        atomic_fetch_sub_explicit(&s->busy, 1, memory_order_relaxed);
}

/* The first error a worker reports before it exits EX_CONFIG (lazy-apps import failure), for
 * the master's STATUS=; later ones are dropped. NULL when none. */
void scoreboard_set_error(Scoreboard *sb, const char *message);
const char *scoreboard_error(const Scoreboard *sb);

typedef struct ScoreboardTotals {
        size_t workers; /* slots with a process */
        uint64_t busy, requests, exceptions, tx;
} ScoreboardTotals;

void scoreboard_totals(const Scoreboard *sb, ScoreboardTotals *ret);

typedef struct ScoreboardInfo {
        const char *version;
        pid_t pid;             /* the master's */
        uint64_t listen_queue; /* connections waiting in the accept queues */
} ScoreboardInfo;

/* The stats object, uWSGI's shape, as one line of JSON shorter than max_size bytes (with its
 * NUL), the workers array cut short (and "workers_truncated": true) when it must be:
 *   {"version","pid","listen_queue","load","workers":[{"id","pid","requests","exceptions",
 *    "status":"idle"|"busy","avg_rt","tx","respawn_count","running_time","last_spawn"}],
 *    "requests","exceptions"}
 * Returns a malloc'd string, or NULL when out of memory or max_size is too small for even an
 * empty workers array. */
char *scoreboard_stats_json(const Scoreboard *sb, const ScoreboardInfo *info, size_t max_size);

/* "2 workers, 1 busy, 1234 requests" into buf. */
void scoreboard_status(const Scoreboard *sb, char *buf, size_t size);
