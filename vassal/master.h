/* SPDX-License-Identifier: MIT */
#pragma once

/* The vassal master: owns the listening sockets and the log, loads the app (unless
 * lazy-apps), forks the workers and keeps them running, and answers the signals a supervisor
 * sends (DESIGN.md): SIGTERM/SIGINT graceful stop, SIGQUIT immediate stop, SIGHUP and SIGUSR2
 * restart the workers, SIGUSR1 reopens the log. Tells the supervisor READY=1 over sd_notify
 * once every worker accepts, and STATUS= plus X_STATS= (the scoreboard as JSON) every
 * stats-interval. With `exec`, a program (exec.c) takes the workers' place. */

#include "config.h"
#include "version.h"

/* Returns the process exit status. Signals must already be blocked (main). On EX_CONFIG, the
 * reason has gone to the supervisor as STATUS=. */
int master_run(VassalConfig *cfg);

/* Tells the supervisor (NOTIFY_SOCKET) why we are about to exit EX_CONFIG: STATUS= with the
 * first line of message. A no-op without a supervisor or a message. */
void master_notify_error(const char *message);

/* Names the process in ps (lib/procname.h) as the config asks: the master (worker_id 0) or
 * worker worker_id. Without a title, comm is fallback ("hello worker 2"), as before. */
void master_set_title(const VassalConfig *cfg, int worker_id, const char *fallback);
