/* SPDX-License-Identifier: MIT */
#pragma once

/* The master's guards over its workers, run once a second from one timer (uWSGI's master
 * checks, with its option names and meanings):
 *   - harakiri: a request running longer than `harakiri` seconds gets its worker killed (and
 *     the master respawns it). With harakiri-verbose the worker is first sent SIGUSR2, which it
 *     answers by logging its requests in flight and every Python thread's stack, and is killed
 *     HARAKIRI_VERBOSE_GRACE_USEC later, whatever it did meanwhile.
 *   - reload-on-as / reload-on-rss: a worker grown past the limit (MB; /proc/PID/statm) is
 *     asked to finish its requests and is replaced.
 *   - max-worker-lifetime: so is a worker older than that (plus its id times the delta).
 *   - each worker's rss and vsz go into the scoreboard for the stats.
 *   - the listen queue: while a TCP listener's accept queue is full, "listen queue of socket
 *     'ADDR' full (N/M)" is logged (once a minute per socket) and listen_queue_errors counts.
 * Side effects on workers go through GuardOps, so the unit tests drive guard_check() with fakes.
 *
 * Also the few helpers the workers use for these features: their max-requests limit with
 * max-requests-delta, memory-report's figures, and the SIGUSR2 report of their requests. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "scoreboard.h"
#include "socket.h"

/* How long a harakiri-verbose worker has to log its stacks before SIGKILL. */
#define HARAKIRI_VERBOSE_GRACE_USEC (500 * 1000ULL)
/* Between two "listen queue full" warnings for one socket. */
#define GUARD_LISTEN_WARN_USEC (60 * 1000000ULL)

typedef struct GuardOps {
        /* Sends sig to worker id's process (the master does it through the pidfd). */
        void (*signal)(void *userdata, int id, int sig);
        /* Worker id finishes its requests and exits; a fresh one takes its place. */
        void (*recycle)(void *userdata, int id);
        /* A process's address space and resident size in bytes: 0 or -errno. NULL: read
         * /proc/PID/statm. */
        int (*memory)(void *userdata, pid_t pid, uint64_t *ret_vsz, uint64_t *ret_rss);
        void *userdata;
} GuardOps;

typedef struct GuardParams {
        sd_event *event; /* the timers run here; NULL: none (tests call guard_check) */
        const VassalConfig *cfg;
        Scoreboard *scoreboard;
        const ListenerSet *listeners; /* read at every check: it may shrink (a stop closes it) */
        bool workers;                 /* false in exec mode: only the listen queue is watched */
        GuardOps ops;
} GuardParams;

typedef struct Guard Guard;

/* Starts the once-a-second check. Returns 0 or -errno (logged). */
int guard_new(const GuardParams *p, Guard **ret);
Guard *guard_free(Guard *g);

/* One round of every check, as of now_usec (CLOCK_MONOTONIC). */
void guard_check(Guard *g, int64_t now_usec);

/* Times a listen queue was found full, for the stats. */
uint64_t guard_listen_queue_errors(const Guard *g);

/* The accept queue of a TCP listener now, and its size (TCP_INFO on a listening socket gives
 * them as tcpi_unacked and tcpi_sacked). false for other sockets. */
bool guard_listener_queue(int fd, uint64_t *ret_queue, uint64_t *ret_max);

/* Worker id's max-worker-lifetime in seconds: lifetime + id * max-worker-lifetime-delta, as
 * uWSGI does. 0: none. */
uint64_t guard_lifetime(const VassalConfig *c, int id);

/* ---- for the workers ---- */

/* Worker id's max-requests: max-requests + (id - 1) * max-requests-delta, as uWSGI does, so
 * the workers of one vassal do not all recycle at once. 0: no limit. */
uint64_t guard_max_requests(const VassalConfig *c, int id);

/* /proc/PID/statm's first two fields (pages) as bytes. Returns 0 or -EINVAL. */
int guard_parse_statm(const char *text, uint64_t *ret_vsz, uint64_t *ret_rss);
/* Reads an open /proc/.../statm from offset 0 (pread: the fd stays open for the next time).
 * Returns 0 or -errno. */
int guard_read_statm(int fd, uint64_t *ret_vsz, uint64_t *ret_rss);
/* memory-report: uWSGI's "{address space usage: N bytes/NMB} {rss usage: N bytes/NMB} " into
 * buf, or "" when statm cannot be read. */
void guard_memory_report(int statm_fd, char *buf, size_t size);

/* A worker's answer to SIGUSR2 (before its Python stacks): each thread's request in flight
 * and for how long. */
void guard_log_requests(Scoreboard *sb, int id);
