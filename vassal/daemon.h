/* SPDX-License-Identifier: MIT */
#pragma once

/* Process hygiene for a vassal run by hand or by an init script rather than a supervisor:
 * `daemonize = LOGFILE` (to the background, logging to LOGFILE unless logto is set),
 * `pidfile = PATH` (the master's pid, written atomically) and `vacuum` (the pidfile is removed
 * on exit; unix sockets we bound are removed on exit in any case). */

#include "config.h"

/* daemonize: forks; the child starts a session of its own, with stdin on /dev/null, and
 * returns 0 to go on as the master. The parent waits until the master is ready (or gone) and
 * returns 1 with *ret_code set: what main() returns (0 once it is ready, else the master's
 * exit status). Without daemonize, in a master re-executed by a reload (already in the
 * background) or under a supervisor (NOTIFY_SOCKET: it would take our exit for a stop), does
 * nothing and returns 0. Returns -errno on failure (logged). */
int daemon_start(const VassalConfig *c, int *ret_code);

/* The master accepts: a daemonizing parent may go. Idempotent; a no-op without daemonize. */
void daemon_ready(void);

/* pidfile: writes our pid as "PID\n" to a temporary file in the same directory and renames it
 * into place, so a reader never sees a partial file. Returns 0 or -errno (logged). */
int daemon_pidfile_write(const VassalConfig *c);

/* vacuum: removes the pidfile, if it still holds our pid (a newer instance may own it now). */
void daemon_pidfile_remove(const VassalConfig *c);
