/* SPDX-License-Identifier: MIT */
#pragma once

/* The vassal master: owns the listening sockets and the log, loads the app (unless
 * lazy-apps), forks the workers and keeps them running, and answers the signals a supervisor
 * sends (DESIGN.md): SIGTERM/SIGINT graceful stop, SIGQUIT immediate stop, SIGHUP and SIGUSR2
 * restart the workers, SIGUSR1 reopens the log. Tells the supervisor READY=1 over sd_notify
 * once every worker accepts. */

#include "config.h"

/* Returns the process exit status. Signals must already be blocked (main). */
int master_run(VassalConfig *cfg);
