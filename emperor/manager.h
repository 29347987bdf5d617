/* SPDX-License-Identifier: MIT */
#pragma once

/* The emperor's state: the conf dir it watches, the fleet of instances (one per ini), the
 * notify socket the vassals report on, and the control socket. One sd-event loop drives it
 * all; nothing here blocks. The struct is manager.c's: others use the functions below. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <signal.h>
#include <systemd/sd-event.h>

#include "spawn.h"

typedef struct Manager Manager;
typedef struct Instance Instance;
typedef struct Control Control;
typedef struct History History;
typedef struct Reports Reports;

/* The manager's side effects on the world, the one seam a unit test replaces (tests/unit/
 * test-instance.c drives instances with fakes, without forking): children, signals, the clock,
 * timers. ops.c holds the real ones: spawn.c, sd-event child sources (pidfds) and timers. */
typedef struct ManagerChild ManagerChild; /* a child being watched */
typedef struct ManagerTimer ManagerTimer; /* an armed one-shot timer */
/* A watched child died (it is reaped after the call); output: what it printed when spawned
 * with capture, else NULL. */
typedef void (*ManagerExitFn)(void *userdata, const siginfo_t *si, const char *output);
typedef void (*ManagerTimerFn)(void *userdata);

typedef struct ManagerOps {
        /* CLOCK_MONOTONIC, µs. */
        uint64_t (*now)(Manager *m);
        /* fork+exec o (spawn.c) and watch the child: on_exit runs once, when it dies. capture:
         * collect its stdout and stderr (bounded) for on_exit. Returns 0 with *ret_pid,
         * *ret_exec_errno (the exec's errno, 0: it runs) and *ret set, or -errno with nothing
         * left running. */
        int (*spawn)(Manager *m, const SpawnOptions *o, bool capture, ManagerExitFn on_exit,
                     void *userdata, pid_t *ret_pid, int *ret_exec_errno, ManagerChild **ret);
        /* Signals the child (through its pidfd: never a recycled pid). */
        void (*signal)(Manager *m, ManagerChild *c, int sig);
        /* SIGKILL to what is left of a dead or dying child's tree: its process group, its
         * cgroup (may be NULL), the orphans it left us. */
        void (*kill_tree)(Manager *m, pid_t pid, const char *cgroup);
        /* Watches a vassal a previous emperor started, by its pidfd (taken): our child again
         * after the re-exec of an upgrade, else a process we can only see die (on_exit gets
         * si_code 0: its exit status is not ours to know). */
        int (*adopt)(Manager *m, pid_t pid, int pidfd, ManagerExitFn on_exit, void *userdata,
                     ManagerChild **ret);
        /* Stops watching (on_exit will not run); NULL-safe. Returns NULL. */
        ManagerChild *(*release)(Manager *m, ManagerChild *c);
        /* Arms a one-shot timer usec from now; *ret is disarmed first if set. */
        int (*timer_arm)(Manager *m, uint64_t usec, ManagerTimerFn fn, void *userdata,
                         ManagerTimer **ret);
        /* NULL-safe; returns NULL. */
        ManagerTimer *(*timer_disarm)(Manager *m, ManagerTimer *t);
} ManagerOps;

typedef struct PidOwner {
        pid_t pid;
        Instance *inst;
} PidOwner;

typedef struct ManagerOptions {
        const char *conf_dir;
        const char *run_dir;
        const char *state_dir;
        const char *vassal_path;
        bool tyrant;
        unsigned stats_interval; /* seconds, passed to vassals */
        unsigned ready_timeout;  /* seconds a new vassal has to report READY=1 */
        uint64_t retain_raw, retain_minutes, retain_hours; /* stats store, seconds; 0: default */
        uint64_t store_max_bytes; /* the stats store's bound; 0: default */
        const ManagerOps *ops;    /* NULL: the real ones (ops.c) */
} ManagerOptions;

int manager_new(const ManagerOptions *o, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        if (*m)
                manager_free(*m);
}

/* Binds the notify and control sockets, watches the conf dir and spawns what it holds. */
int manager_start(Manager *m);
/* Reads the vassals' stats reports that came since the last call (reports.h): once a tick. */
void manager_collect_reports(Manager *m);
/* Reconciles the fleet with the conf dir now. */
void manager_rescan(Manager *m);
/* Stops every vassal in parallel; the loop exits once all are gone. */
void manager_stop(Manager *m);
/* Exits the loop leaving every vassal running, recorded in RUN_DIR for the next emperor to
 * adopt (SIGQUIT; with upgrade, SIGUSR2 and `emperorctl upgrade`: main re-executes the
 * emperor's binary then). */
void manager_detach(Manager *m, bool upgrade);
/* The conf dir's files the last scan did not take, and why (scan.h). */
typedef struct ScanIgnored ScanIgnored;
const ScanIgnored *manager_ignored(const Manager *m, size_t *ret_n);
bool manager_detaching(const Manager *m);
bool manager_upgrading(const Manager *m);
/* Exits the loop when stopping and nothing runs any more. */
void manager_maybe_exit(Manager *m);
Instance *manager_find(Manager *m, const char *name);
/* The fleet, in no particular order: for (i = manager_first(m); i; i = manager_next(m, i)).
 * The instance the walk stands on must not be freed (take its next first). */
Instance *manager_first(Manager *m);
Instance *manager_next(Manager *m, Instance *i);
size_t manager_size(const Manager *m);
void manager_add(Manager *m, Instance *i);
void manager_remove(Manager *m, Instance *i);
/* sd_notify STATUS= with the fleet's counts. */
void manager_update_status(Manager *m);
/* Takes over a killed vassal's cgroup path, to remove it once its processes are gone. */
void manager_forget_cgroup(Manager *m, char *path);
/* Reaps children that are not ours to watch: grandchildren of vassals reparented to us (we
 * are a subreaper) after their parent died. */
void manager_reap_orphans(Manager *m);
/* The processes the emperor watches (vassals and their checks, emperor-web), each with the
 * instance it belongs to (NULL for emperor-web): the notify socket and the orphan reaper find
 * a pid's owner in O(log n), not by walking the fleet. o is the caller's (in its Proc or Check) and stays in the index until
 * removed. add: 0 or -ENOMEM; remove: a no-op for one not there. */
int manager_pid_add(Manager *m, PidOwner *o);
void manager_pid_remove(Manager *m, PidOwner *o);
Instance *manager_pid_owner(Manager *m, pid_t pid);

/* What the manager was set up with. */
sd_event *manager_event(Manager *m);
const ManagerOps *manager_ops(Manager *m);
History *manager_history(Manager *m);
const char *manager_conf_dir(const Manager *m);
const char *manager_run_dir(const Manager *m);
const char *manager_state_dir(const Manager *m);
const char *manager_vassal_path(const Manager *m);
const char *manager_notify_path(const Manager *m);
/* RUN_DIR/stats.sock, where vassals send their stats reports (reports.h). */
const char *manager_reports_path(const Manager *m);
const char *manager_cgroup_root(const Manager *m); /* NULL: process groups only */
bool manager_tyrant(const Manager *m);
uid_t manager_uid(const Manager *m);
unsigned manager_stats_interval(const Manager *m);
unsigned manager_ready_timeout(const Manager *m);
/* The emperor is stopping: nothing new starts. */
bool manager_stopping(const Manager *m);
/* A number for the next spawned vassal, unique in this emperor's life (its cgroup's name). */
unsigned manager_spawn_seq(Manager *m);
