/* SPDX-License-Identifier: MIT */
#pragma once

/* fork+exec of a child the emperor supervises. The child part is minimal: reset the signal
 * mask and dispositions (both survive exec), its own session and process group, the
 * parent-death signal, its cgroup, the passed sockets at fd 3.. (LISTEN_FDS/LISTEN_PID),
 * privileges, exec. A failed exec reports its errno through a close-on-exec pipe, so the
 * parent learns synchronously (s6's trystart). */

#include <stdbool.h>
#include <sys/types.h>

typedef struct SpawnOptions {
        const char *path;        /* the program */
        char *const *argv;
        char *const *env_add;    /* "KEY=VALUE" entries added to (and replacing in) our env */
        const int *fds;          /* passed as LISTEN_FDS from fd 3 on */
        size_t n_fds;
        int stdout_fd;           /* -1: inherit; else stdout and stderr go there */
        const char *cgroup;      /* directory to join, or NULL */
        bool drop;               /* switch to uid/gid before exec */
        uid_t uid;
        gid_t gid;
} SpawnOptions;

/* Returns 0 with *ret_pid set (the child exists even when exec failed: reap it), or -errno
 * for the fork; *ret_exec_errno is the child's exec (or setup) errno, 0 on success. */
int spawn_process(const SpawnOptions *o, pid_t *ret_pid, int *ret_exec_errno);
