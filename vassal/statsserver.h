/* SPDX-License-Identifier: MIT */
#pragma once

/* The stats: one JSON object in uWSGI's layout (scoreboard.h has the fields), built here from
 * the scoreboard, the listening sockets and the guard. The master sends it as X_STATS= to its
 * supervisor, and with `stats = ADDR` a stats server in the master answers every connection
 * with it, as uWSGI's does, so uwsgitop and existing dashboards read it:
 *   - raw (default): the JSON, then the connection closes (`nc 127.0.0.1 9191`, uwsgitop);
 *   - stats-http: the client's HTTP request gets a 200 application/json response (curl).
 * The server is bounded: STATS_CLIENTS_MAX connections at once (more wait in the backlog),
 * each done within STATS_CLIENT_TIMEOUT_USEC; it never blocks the master's loop. */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "guard.h"
#include "scoreboard.h"
#include "socket.h"

#define STATS_CLIENTS_MAX 16
#define STATS_CLIENT_TIMEOUT_USEC (5 * 1000000ULL)

/* The stats object as one line of JSON under max_size bytes (see scoreboard_stats_json), with
 * each worker's cores (threads and their requests) when cores is set. guard may be NULL, and
 * window (the master's last stats interval: p99_rt, cpu) too; log_path is the config's
 * (NULL: stderr). NULL on OOM. */
char *stats_json(Scoreboard *sb, const ListenerSet *ls, const Guard *guard,
                 const ScoreboardWindow *window, const char *log_path, bool cores,
                 size_t max_size);

typedef struct StatsServer StatsServer;

/* Binds address (":9191", "127.0.0.1:9191", "[::1]:9191", a unix path or "@abstract"): as
 * root, before privileges are dropped. An address in use is no error: a supervisor starting
 * us beside the vassal we replace (blue-green) finds it still held, so the server retries
 * every second once started. Returns 0 or -errno (logged). */
int stats_server_new(const char *address, bool http, StatsServer **ret);

/* Serves from the loop e, with the sources stats_json() reads. Returns 0 or -errno. */
int stats_server_start(StatsServer *s, sd_event *e, Scoreboard *sb, const ListenerSet *ls,
                       const Guard *guard, const ScoreboardWindow *window, const char *log_path);

/* In a forked worker: closes the inherited listening socket and client connections, which
 * are the master's alone (a worker holding it would keep the port bound after the master
 * re-executes itself for a reload). Touches no event source: they belong to the master's
 * loop. NULL-safe. */
void stats_server_close_in_child(StatsServer *s);

/* Closes every connection and the socket; removes the unix socket file if it is still the
 * one we made. NULL-safe; returns NULL. */
StatsServer *stats_server_free(StatsServer *s);
