/* SPDX-License-Identifier: MIT */
#pragma once

/* A worker process: T threads share one epoll set holding the listening sockets and every
 * idle connection (EPOLLONESHOT), so whichever thread is free serves whichever connection is
 * ready, keep-alive connections never wait behind a busy thread, and no request is handed
 * between threads. The main thread runs an sd-event loop for signals and a 1 s sweep that
 * times out stalled and idle connections. */

#include "config.h"
#include "scoreboard.h"
#include "socket.h"

typedef struct WorkerArgs {
        const VassalConfig *cfg;
        ListenerSet *listeners;
        int id;       /* 1-based */
        int ready_fd; /* write our id here once we accept */
        Scoreboard *scoreboard;
        ScoreboardSlot *slot; /* ours: every request is counted in it */
} WorkerArgs;

/* Runs in the forked child; returns the exit status (0, or EX_CONFIG when a lazy app fails
 * to import). */
/* The start every worker makes, threads or greenlets: its name in logs and ps ("APP worker N",
 * in name), the master's death as its SIGTERM, the app (imported now with lazy-apps, else the
 * master's, after the fork). 0, or EX_CONFIG when the app does not load (its error in the
 * scoreboard, for the master to report). */
int worker_begin(const WorkerArgs *a, char *name, size_t size);
int worker_run(const WorkerArgs *args);
