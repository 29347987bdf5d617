/* SPDX-License-Identifier: MIT */
#pragma once

/* Child processes, once for every supervisor here (the emperor's vassals, the master's workers,
 * the vassal's exec programs, the config checks).
 *
 * Starting one (child_fork(), child_spawn()):
 *   - everything the child needs is prepared before the fork (argv, the environment with
 *     LISTEN_FDS/LISTEN_FDNAMES and a LISTEN_PID= slot, scratch arrays): between fork and exec
 *     only async-signal-safe calls run, no malloc, no printf, no locks;
 *   - the fds given go to 3, 4, ... in their order, without clobbering each other, with
 *     close-on-exec cleared; every other fd from there on is made close-on-exec;
 *   - its setup or exec errno comes back through a close-on-exec pipe, so the parent learns
 *     synchronously that the program does not exist (s6's trystart);
 *   - the parent gets a pidfd for it, opened right after the fork: the child cannot be reaped
 *     (its pid recycled) before, since only its parent may reap it and we do not yet.
 * Or fork only (run set, path NULL): the child runs a function and exits with its value: the
 * master's pre-forked workers (STYLE.md 9, the one fork-without-exec case).
 *
 * Watching one (Child): its exit is reported once through on_exit; child_signal() goes through
 * the pidfd, so it never reaches a recycled pid and does nothing once the child is reaped;
 * child_stop() sends a signal and SIGKILL after the mercy (nginx, s6: graceful, then kill).
 *
 * The library never logs above debug: the callbacks let the caller say what happened. */

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

typedef struct Child Child;

/* A stdio field of ChildSpec: keep what we have, or /dev/null. */
#define CHILD_FD_INHERIT (-1)
#define CHILD_FD_NULL (-2)

typedef enum ChildFlags {
        CHILD_NEW_SESSION = 1 << 0,   /* setsid(): its own session and process group */
        CHILD_NEW_PGROUP = 1 << 1,    /* setpgid(0, 0): its own process group only */
        CHILD_RESET_SIGNALS = 1 << 2, /* empty mask, default dispositions (both survive exec) */
        /* child_signal() and child_stop() reach its whole process group (it leads one) */
        CHILD_SIGNAL_GROUP = 1 << 3,
} ChildFlags;

typedef void (*ChildExitFunc)(Child *c, const siginfo_t *si, void *userdata);
typedef void (*ChildKillFunc)(Child *c, void *userdata);

typedef struct ChildSpec {
        /* exec: the program, execve'd as is (no $PATH search), argv, and the environment. */
        const char *path;
        char *const *argv;
        char *const *env;     /* the base environment; NULL: ours (environ) */
        /* "NAME=VALUE" added to the base or replacing NAME there; "NAME" alone removes NAME.
         * LISTEN_* of the base are always dropped: they describe us, not the child. */
        char *const *env_add;

        /* fork only (path NULL): the child's work; its return value is the exit status. */
        int (*run)(void *run_data);
        void *run_data;

        const int *fds;                /* to fd 3, 4, ... in this order */
        size_t n_fds;
        /* exec with fds: LISTEN_FDS, LISTEN_PID (the child's pid, written after the fork) and,
         * when names are given (n_fds of them), LISTEN_FDNAMES. */
        char *const *fd_names;

        int stdin_fd; /* an fd to put at 0, 1, 2, or CHILD_FD_INHERIT / CHILD_FD_NULL: set */
        int stdout_fd; /* all three (0 would mean fd 0) */
        int stderr_fd;

        ChildFlags flags;
        int pdeath_signal;        /* PR_SET_PDEATHSIG, 0: none */
        const char *cgroup_procs; /* a cgroup.procs file to join, or NULL */
        bool drop;                /* switch to uid/gid (and no supplementary groups) */
        uid_t uid;
        gid_t gid;

        /* For child_spawn(): the exit, once (the Child stays valid; free it there or later),
         * and the mercy of child_stop() running out (SIGKILL went; free it there or later). */
        ChildExitFunc on_exit;
        ChildKillFunc on_kill;
        void *userdata;
} ChildSpec;

/* Forks the child described by s. Returns -errno when there is no child (fork, pipe,
 * allocation); else 0 with *ret_pid, *ret_pidfd (NULL: closed) and *ret_setup_errno: 0 when
 * the exec succeeded (or, fork only, the setup did and run() runs), else the errno with which
 * the setup or exec failed: the child then exits 127 and is left for the caller to reap. */
int child_fork(const ChildSpec *s, pid_t *ret_pid, int *ret_pidfd, int *ret_setup_errno);

/* child_fork(), watched on e. A failed setup or exec is reaped here and returned as its
 * -errno (-ENOENT: no such program), as is a failure of fork or of the watch. */
int child_spawn(sd_event *e, const ChildSpec *s, Child **ret);
/* Watches pid, an unreaped child of ours we did not fork here (one inherited across exec),
 * with s's callbacks and flags (the rest of s is not used). Returns -ESRCH if it is not one
 * (any more). */
int child_adopt(sd_event *e, pid_t pid, const ChildSpec *s, Child **ret);

/* Stops watching; a child still running is killed and reaped first (SIGKILL, then a wait
 * that the kill makes short). NULL-safe, returns NULL. */
Child *child_free(Child *c);
static inline void child_freep(Child **c) {
        child_free(*c);
}

/* Sends sig through the pidfd (to its group with CHILD_SIGNAL_GROUP). Returns 0, or -ESRCH
 * once it is reaped: never a recycled pid. */
int child_signal(Child *c, int sig);
/* sig to the process behind pidfd; -ESRCH for no pidfd (< 0). */
int child_signal_pidfd(int pidfd, int sig);
/* sig through the pidfd of an sd-event child source (sd_event_add_child()); -ESRCH for NULL,
 * as once a caller dropped the source at the exit. For a watcher that holds no Child. */
int child_signal_source(sd_event_source *s, int sig);
/* Sends sig to its process group, the leader reaped or not: while any member lives the group
 * id cannot be given to another process. Only for a CHILD_NEW_SESSION/PGROUP child. */
int child_signal_group(Child *c, int sig);

/* A graceful stop: sig now, SIGKILL (to its group with CHILD_SIGNAL_GROUP) after mercy_usec
 * unless it is gone by then (a group: unless the caller freed c), then on_kill is told. Called again, it sends sig again
 * and keeps the first deadline; SIGKILL needs no deadline. The exit comes through on_exit. */
int child_stop(Child *c, int sig, uint64_t mercy_usec);

pid_t child_pid(const Child *c);        /* kept after the exit, for messages */
bool child_running(const Child *c);     /* not reaped yet */
bool child_stopping(const Child *c);    /* child_stop() was called */
uint64_t child_started(const Child *c); /* when it was forked, CLOCK_MONOTONIC µs */

/* Writes "PREFIX" and v in decimal into buf (size bytes, NUL-terminated, cut to fit), with
 * async-signal-safe code only: for the child, between fork and exec. Returns buf. */
char *child_format_ulong(char *buf, size_t size, const char *prefix, unsigned long v);
