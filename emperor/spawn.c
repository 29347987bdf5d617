/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "child.h"
#include "macro.h"
#include "spawn.h"

int spawn_process(const SpawnOptions *o, pid_t *ret_pid, int *ret_exec_errno) {
        _cleanup_free_ char *procs = NULL, **add = NULL;
        size_t n = 0;

        if (o->cgroup && asprintf(&procs, "%s/cgroup.procs", o->cgroup) < 0)
                return -ENOMEM;
        for (char *const *a = o->env_add; a && *a; a++)
                n++;
        add = calloc(n + 2, sizeof(char *));
        if (!add)
                return -ENOMEM;
        /* Ours goes, unless env_add names one of its own: the emperor listens there, and
         * would take a child's READY=1 for a vassal's. */
        add[0] = (char *) "NOTIFY_SOCKET";
        for (size_t i = 0; i < n; i++)
                add[i + 1] = o->env_add[i];

        ChildSpec s = {
                .path = o->path,
                .argv = o->argv,
                .env_add = add,
                .fds = o->fds,
                .n_fds = o->n_fds,
                .stdin_fd = CHILD_FD_INHERIT,
                .stdout_fd = o->stdout_fd >= 0 ? o->stdout_fd : CHILD_FD_INHERIT,
                .stderr_fd = o->stdout_fd >= 0 ? o->stdout_fd : CHILD_FD_INHERIT,
                .flags = CHILD_NEW_SESSION | CHILD_RESET_SIGNALS,
                /* No parent-death signal: the fleet outlives its emperor, and the next one
                 * adopts it (runstate.h). */
                .cgroup_procs = procs,
                .drop = o->drop,
                .uid = o->uid,
                .gid = o->gid,
        };
        return child_fork(&s, ret_pid, NULL, ret_exec_errno);
}
