/* SPDX-License-Identifier: MIT */
#pragma once

/* `exec = COMMAND ARGS`: the vassal supervises another program instead of a WSGI app. The
 * master binds the ini's sockets as usual and hands them to the program at fd 3.. with
 * LISTEN_FDS/LISTEN_PID (systemd's socket-activation protocol); the program's stdout and
 * stderr go into the master's log; it runs in its own process group so a stop reaches its
 * children too; it is restarted when it exits unasked, as lib/backoff.h says (the first death
 * at once but never sooner than 1 s after its start, then 2, 4, ... 32 s and 60 s while it
 * keeps dying within a minute of its start; it is a service, so exit 0 restarts too); a stop is
 * SIGTERM to the group, then SIGKILL after reload-mercy. It is started by lib/child.h, which
 * tells a failed exec (no such program) before exec_program_start() returns.
 *
 * The command is split into words the way a POSIX shell splits them, but no shell runs it:
 * whitespace separates words, 'single quotes' keep everything literal, "double quotes" keep
 * spaces and honour \" \\ \$ \` escapes, a backslash outside quotes escapes the next
 * character. Unquoted shell operators and expansions (| & ; < > ( ) $ `) are refused rather
 * than passed on as arguments the user did not mean: to run a pipeline, say so with
 * `exec = /bin/sh -c '...'`. A word without a '/' is looked up in $PATH. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "socket.h"

/* Splits command into a NULL-terminated argv (free with exec_argv_free). Returns 0, -ENOMEM,
 * or -EINVAL with *ret_why a static phrase completing "expected ..." ("a command with
 * matching quotes"). */
int exec_split(const char *command, char ***ret_argv, const char **ret_why);
char **exec_argv_free(char **argv);

typedef struct ExecProgram ExecProgram;

typedef enum ExecEvent {
        EXEC_EVENT_STARTED, /* the exec succeeded: the program runs */
        EXEC_EVENT_FAILED,  /* the fork or exec failed (logged); a restart is scheduled */
        EXEC_EVENT_GONE,    /* after exec_program_stop(): nothing of the program is left */
} ExecEvent;

typedef void (*ExecEventFunc)(ExecProgram *p, ExecEvent event, void *userdata);

typedef struct ExecParams {
        sd_event *event;
        const char *command;          /* as configured; split with exec_split() */
        const ListenerSet *listeners; /* handed over at fd 3.. (may be empty) */
        int log_fd;                   /* the program's stdout and stderr */
        uint64_t mercy_usec;          /* SIGTERM to SIGKILL */
        ExecEventFunc on_event;
        void *userdata;
} ExecParams;

/* Prepares the program (argv, environment); exec_program_start() runs it. Returns 0 or
 * -errno (logged). */
int exec_program_new(const ExecParams *params, ExecProgram **ret);
ExecProgram *exec_program_free(ExecProgram *p);

/* Forks and execs it. Returns 0 or -errno (logged; a retry is scheduled). */
int exec_program_start(ExecProgram *p);
/* Stops it for good: SIGTERM to its process group and SIGKILL after the mercy when graceful,
 * SIGKILL at once otherwise. EXEC_EVENT_GONE follows (maybe from within this call). */
void exec_program_stop(ExecProgram *p, bool graceful);
/* SIGHUP: stops it gracefully and starts it again as soon as it is gone. */
void exec_program_restart(ExecProgram *p);

/* Whether a process of the program may still be running. */
bool exec_program_alive(const ExecProgram *p);
/* The running program's pid, or 0. */
pid_t exec_program_pid(const ExecProgram *p);
/* How many times it was started after the first. */
unsigned exec_program_restarts(const ExecProgram *p);
/* The command as configured, for messages. */
const char *exec_program_name(const ExecProgram *p);
