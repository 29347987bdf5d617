/* SPDX-License-Identifier: MIT */
#pragma once

/* One vassal: its ini, the sockets the emperor holds for it (socks.h), and its processes. Its
 * state machine is one table of state x event (instance.c, s6-supervise's model; DESIGN.md):
 *
 *   starting -> running -> (reloading -> running)* -> stopping -> stopped | gone
 *   an unasked death -> crash-loop -> starting, paced by lib/backoff.h (1 s floor; 2, 4 ...
 *   32 s, then 60 s for as long as it keeps dying young; reset by a stable minute, an ini
 *   change or an operator's start);  exit 78 -> config-error until the ini changes.
 *
 * Every change of the ini is checked with `vassal --check` first (check.h); a reload starts a
 * new vassal on the same sockets and stops the old one only once the new one reported READY=1.
 * A reload that fails (bad ini, no READY=1 in time, the new one dies) leaves the old one
 * serving. All side effects go through the manager's ops (manager.h). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "manager.h"
#include "scan.h"
#include "vstats.h"

typedef enum InstanceState {
        STATE_STARTING,
        STATE_RUNNING,
        STATE_RELOADING,
        STATE_STOPPING,
        STATE_STOPPED,
        STATE_CRASH_LOOP,
        STATE_CONFIG_ERROR,
        _STATE_MAX,
} InstanceState;

const char *instance_state_to_string(InstanceState s);

Instance *instance_new(Manager *m, const ScanEntry *e);
void instance_free(Instance *i);
/* A new emperor takes back a vassal that outlived the previous one (runstate.h): s verified,
 * pidfd for it (taken), fds its sockets taken back (taken), in s's order. The instance (made
 * from s's ini, not yet started) is running with it as its serving process. */
typedef struct RunState RunState;
int instance_adopt(Instance *i, const RunState *s, int pidfd, int *fds);

/* The link of the manager's list of instances: manager.c's only. */
Instance **instance_link(Instance *i);
const char *instance_name(const Instance *i);
/* What its serving process says it is doing on its own (RELOADING=1: "reloading", STOPPING=1:
 * "stopping") until its next READY=1; NULL: nothing. */
const char *instance_phase(const Instance *i);
/* The version of its ini it last took (or was told about by a scan). */
const ScanKey *instance_key(const Instance *i);
InstanceState instance_state(const Instance *i);
uid_t instance_owner(const Instance *i);
bool instance_seen(Instance *i, bool reset);
/* Whether any process of the instance is still alive. */
bool instance_has_processes(const Instance *i);

/* The scan found the ini for the first time, changed, or gone. */
void instance_start(Instance *i);
void instance_changed(Instance *i, const ScanEntry *e);
void instance_removed(Instance *i);
/* Emperor shutdown: stop gracefully, keep the record. */
void instance_shutdown(Instance *i);

/* Control commands. Return 0, or -errno with *ret_error set (static text). */
int instance_cmd_reload(Instance *i, const char **ret_error);
int instance_cmd_restart(Instance *i, const char **ret_error);
int instance_cmd_chain_reload(Instance *i, const char **ret_error);
int instance_cmd_stop(Instance *i, const char **ret_error);
int instance_cmd_start(Instance *i, const char **ret_error);

/* ---- watching what a command comes to (control.c's --wait) ----
 *
 * Every start, restart and reload is one attempt: it begins with the check of the ini
 * (instance_attempt() counts them) and ends with exactly one outcome, UP or FAILED, told to
 * every watch with the attempt's number. A command that begins no attempt at once (a reload
 * while a start is under way, a start while it stops) is carried by the next one, so a
 * watcher that read instance_attempt() before the command waits for the outcome of any
 * attempt past it. STOPPED and CHAINED end the other commands; GONE says the instance is
 * being freed (the watch is removed by then). A watch must not free the instance nor remove
 * another watch. */
typedef enum InstanceOutcome {
        INSTANCE_UP,      /* the attempt's process reported READY=1 and serves */
        INSTANCE_FAILED,  /* the attempt failed (error): the check, the spawn, a death */
        INSTANCE_STOPPED, /* nothing runs any more (restarting: a start follows at once) */
        INSTANCE_CHAINED, /* the serving process finished a chain reload (READY=1 again) */
        INSTANCE_GONE,
} InstanceOutcome;

typedef struct InstanceWatch InstanceWatch;
struct InstanceWatch {
        InstanceWatch *next;
        void (*tell)(InstanceWatch *w, Instance *i, InstanceOutcome o, unsigned attempt,
                     bool restarting, const char *error);
};
void instance_watch_add(Instance *i, InstanceWatch *w);
void instance_watch_remove(Instance *i, InstanceWatch *w);
unsigned instance_attempt(const Instance *i);

/* pid, the serving process, sent no stats report for silent_usec (reports.c decides when
 * that means hung): it is killed, and restarted as after a crash. */
void instance_hung(Instance *i, pid_t pid, uint64_t silent_usec);

/* A datagram from the notify socket sent by pid; false when pid is none of ours. */
bool instance_notify(Instance *i, pid_t pid, const char *msg, size_t len);

/* What status and the API show (status.c renders it). */
unsigned instance_restarts(const Instance *i);
/* Seconds since the serving process started; NaN when none runs. */
double instance_uptime(const Instance *i);
/* The serving process's last stats report (X_STATS=), decoded; NULL before the first. */
const VassalStats *instance_stats(const Instance *i);
/* Seconds since that report came; NaN without one. */
double instance_stats_age(const Instance *i);
/* The serving process's pid (0: none) and when its last X_STATS came (CLOCK_MONOTONIC µs, 0:
 * never). */
pid_t instance_pid(const Instance *i, uint64_t *ret_stats_usec);
const char *instance_path(const Instance *i);
/* How the last unasked death went ("exited with status 1"), and why the last start or
 * reload failed; NULL: none. */
const char *instance_last_exit(const Instance *i);
const char *instance_last_error(const Instance *i);
/* The warnings of the last check that passed (unknown keys, ignored options), one a line;
 * NULL: none. */
const char *instance_warnings(const Instance *i);
/* Seconds until the next start of a vassal in crash-loop; NaN in any other state. */
double instance_backoff_left(const Instance *i);
/* The address of the k-th socket held for it; NULL past the last. */
const char *instance_socket(const Instance *i, size_t k);
/* The user its vassal runs as. */
uid_t instance_run_uid(const Instance *i);
/* The serving process's last STATUS=; NULL: none. */
const char *instance_status(const Instance *i);
