/* SPDX-License-Identifier: MIT */
#pragma once

/* The files a vassal made as root and cannot remove once it runs as `uid`: its unix socket
 * files (bound before the drop, in a directory only root may write, /run say) and, with
 * vacuum, its pidfile. Just before the privileges are dropped, a small process is forked that
 * keeps root for this alone: it closes every descriptor (the listening sockets above all: a
 * port it held would accept connections nobody serves), waits on a pidfd for the master to
 * exit, removes each file that is still the one made (same device and inode; the pidfile only
 * while it names the master), says on stderr what it truly cannot remove, and exits. The
 * master's re-execution on a reload keeps its pid, so the janitor waits on through it. It is
 * not the master's to reap: it ends after the master.
 *
 * Only when there is something to do: running as root, dropping to another user, and a file
 * made. Under the emperor the sockets are the emperor's (it removes them, emperor/socks.c). */

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "socket.h"

/* Forks the janitor for set's unix socket files and cfg's pidfile (with vacuum) if the drop
 * to cfg's uid will take the right to remove them. Returns 0 (started, or not needed), or
 * -errno (logged: the files will be left behind). */
int janitor_start(const VassalConfig *cfg, const ListenerSet *set);

/* Whether a janitor removes the files: the master's own attempt, which fails, is no news. */
bool janitor_active(void);
