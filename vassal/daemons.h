/* SPDX-License-Identifier: MIT */
#pragma once

/* uWSGI's attached daemons, run by the vassal master (uWSGI's AttachingDaemons):
 *
 *   attach-daemon = COMMAND           a program that stays in the foreground ("dumb"): the
 *                                     master runs `/bin/sh -c COMMAND`, restarts it when it dies
 *                                     (lib/backoff.h: never a tight loop), restarts it on a
 *                                     graceful reload (uWSGI: "destroyed when the master is
 *                                     reloaded": it runs the new code too), stops it with the
 *                                     vassal: the stop signal to its process group, SIGKILL
 *                                     after reload-mercy.
 *   smart-attach-daemon = PIDFILE COMMAND
 *                                     a program governed by its pidfile: not started while the
 *                                     pid there runs, watched by that pid (a pidfd: no polling),
 *                                     restarted when it dies, and left running across reloads,
 *                                     stops and the master's death (uWSGI: "can survive death
 *                                     or reload of the master"), so a database or a worker
 *                                     queue is never cut short.
 *   smart-attach-daemon2 = PIDFILE COMMAND
 *                                     the same for a program that cannot daemonize: the master
 *                                     starts it in a session of its own and writes its pid to
 *                                     PIDFILE.
 *   attach-daemon2 = key=value,...    the general form: cmd (command, exec), pidfile (smart),
 *                                     daemonize (smart2), freq (give up after that many quick
 *                                     deaths in a row), control (its death stops the vassal),
 *                                     touch (files;separated;by;semicolons: a touch restarts
 *                                     it), stopsignal, reloadsignal (sent to it on a reload
 *                                     instead of the stop signal), stdin (keep fd 0), uid and
 *                                     gid (when the master runs as root), chdir.
 *
 * Dumb daemons' stdout and stderr go to the vassal's log line by line, each prefixed with
 * "[daemon NAME] " (NAME: the command's first word, without its directory). Smart ones outlive
 * the master, so they write to the master's stderr itself (the log file, or the journal),
 * unprefixed: a pipe that the master read would break (SIGPIPE) once it is gone.
 *
 * The master's death: a dumb daemon gets SIGKILL by parent-death signal (PR_SET_PDEATHSIG), as
 * an exec program does. Only the daemon itself gets it, not what it forked; those stay in the
 * vassal's cgroup, which the emperor kills whole when the master dies (smart daemons too: the
 * emperor's rule, not ours). Chosen over a cgroup of our own (needs delegation, absent when run
 * by hand) and over a watcher process (one more process per daemon, and its own death to
 * handle); the parent-death signal works with or without a supervisor.
 * A reload is an exec of the same thread, not a death: the parent-death signal does not fire,
 * and the new image adopts the children (VASSAL_DAEMON_CHILDREN in the environment). */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "logger.h"

typedef enum DaemonKind {
        DAEMON_ATTACH,  /* attach-daemon */
        DAEMON_SMART,   /* smart-attach-daemon */
        DAEMON_SMART2,  /* smart-attach-daemon2 */
        DAEMON_KEYVAL,  /* attach-daemon2 */
} DaemonKind;

typedef struct DaemonSpec {
        char *command;
        char *pidfile;   /* smart modes; NULL: dumb */
        bool daemonize;  /* smart2: we write the pidfile */
        bool control;    /* its death stops the vassal */
        bool keep_stdin;
        int stop_signal;
        int reload_signal; /* 0: the stop signal */
        int64_t freq;      /* quick deaths in a row before giving up; 0: never give up */
        char **touch;
        char *uid, *gid;
        char *chdir;
} DaemonSpec;

/* Parses one option's value into ret. Returns 0, -ENOMEM, or -EINVAL with *ret_why a phrase
 * completing "expected ...". */
int daemon_spec_parse(DaemonKind kind, const char *value, DaemonSpec *ret, const char **ret_why);
void daemon_spec_done(DaemonSpec *s);
/* "TERM", "SIGTERM", "15": the signal number, or -EINVAL. */
int daemon_parse_signal(const char *s);

typedef struct Daemons Daemons;

typedef struct DaemonsParams {
        sd_event *event;
        const VassalConfig *cfg;
        Logger *logger;      /* where dumb daemons' prefixed lines go */
        uint64_t mercy_usec; /* a stop: the stop signal to SIGKILL */
        void (*on_gone)(void *userdata);                       /* stopping, the last went */
        void (*on_control_death)(const char *name, void *userdata); /* a control daemon died */
        void *userdata;
} DaemonsParams;

/* Parses the configured daemons and adopts the children a previous image left (a reload).
 * Returns 0 or -errno (logged). */
int daemons_new(const DaemonsParams *p, Daemons **ret);
Daemons *daemons_free(Daemons *d);
static inline void daemons_freep(Daemons **d) {
        daemons_free(*d);
}
/* Starts them (once the workers are ready). Idempotent. Dumb daemons of a previous image are
 * waited for first (a port they held must be free). */
void daemons_start(Daemons *d);
/* The vassal stops: dumb daemons get their stop signal (graceful) or SIGKILL; smart ones are
 * left running. */
void daemons_stop(Daemons *d, bool graceful);
/* Processes a stop waits for. */
size_t daemons_alive(const Daemons *d);
/* Before the re-exec of a reload: the reload signal (else the stop signal) to the dumb ones and
 * the reload signal, when set, to the smart ones; the environment names the children for the
 * new image. */
void daemons_prepare_reload(Daemons *d);

#define DAEMONS_ENV "VASSAL_DAEMON_CHILDREN"
