/* SPDX-License-Identifier: MIT */
#pragma once

/* Reloading in place (SIGHUP, touch-reload; SIGUSR2, touch-chain-reload: one worker at a
 * time). The app must be imported again for new code to run, and CPython cannot be torn down
 * and started afresh in one process, so the master re-executes itself: same pid (the
 * supervisor sees nothing change), the listening sockets passed as LISTEN_FDS (never closed,
 * so no connection is refused), the log pipe kept (old workers' lines still arrive), and the
 * old workers' pids passed on. Workers are children, and children survive exec: the new
 * master watches them, starts its own, and stops the old ones once the new ones accept. */

#include <stdbool.h>
#include <sys/types.h>

#include "socket.h"

/* main(): remembers how we were started, to start the same way again. */
void reload_save_argv(char **argv);
char *const *reload_argv(void);
const char *reload_exe(void);

typedef struct ReloadInherit {
        bool active; /* this master is a reload of a previous one */
        bool chain;
        pid_t *old_pids; /* the previous master's workers, in worker-id order */
        size_t n_old;
        int log_pipe[2]; /* -1 when not inherited */
} ReloadInherit;

/* Reads (and removes) what a previous master left in the environment. */
int reload_inherit(ReloadInherit *ret);
void reload_inherit_done(ReloadInherit *r);

/* Re-executes the vassal. Returns only on failure, with the process no longer in a state to
 * go on (descriptors moved): the caller exits. */
int reload_exec(const ListenerSet *ls, const int log_pipe[2], const pid_t *workers, size_t n,
                bool chain);
