/* SPDX-License-Identifier: MIT */
#pragma once

/* The emperor's state: the conf dir it watches, the fleet of instances (one per ini), the
 * notify socket the vassals report on, and the control socket. One sd-event loop drives it
 * all; nothing here blocks. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

typedef struct Instance Instance;
typedef struct Control Control;
typedef struct Web Web;
typedef struct History History;
typedef struct Reports Reports;

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
        const char *http;        /* /metrics and the API; NULL or "none": off */
        uint64_t retain_raw, retain_minutes, retain_hours; /* stats store, seconds; 0: default */
        uint64_t store_max_bytes; /* the stats store's bound; 0: default */
} ManagerOptions;

typedef struct Manager {
        sd_event *event;
        char *conf_dir;
        char *run_dir;
        char *state_dir;
        char *vassal_path;
        char *notify_path;
        char *reports_path; /* RUN_DIR/stats.sock: the vassals' stats reports */
        Reports *reports;
        char *cgroup_root; /* NULL: process groups only */
        bool tyrant;
        uid_t uid;
        unsigned stats_interval;
        unsigned ready_timeout;
        unsigned spawn_seq;

        Instance *instances;
        size_t n_instances;

        sd_event_source *inotify;
        sd_event_source *debounce;
        sd_event_source *rescan;
        sd_event_source *rewatch;
        sd_event_source *reap;
        int notify_fd;
        sd_event_source *notify_src;
        Control *control;
        Web *web;
        History *history; /* the stats store: samples and events */
        char *http;

        void *pids; /* tsearch(3) tree of PidOwner: every process we watch, by pid */
        char **dead_cgroups; /* vassal cgroups still being emptied, removed by the reaper */
        size_t n_dead_cgroups;

        bool stopping;
        bool ready_sent;
} Manager;

int manager_new(const ManagerOptions *o, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        if (*m)
                manager_free(*m);
}

/* Binds the notify and control sockets, watches the conf dir and spawns what it holds. */
int manager_start(Manager *m);
sd_event *manager_event(Manager *m);
/* Reads the vassals' stats reports that came since the last call (reports.h): once a tick. */
void manager_collect_reports(Manager *m);
/* Reconciles the fleet with the conf dir now. */
void manager_rescan(Manager *m);
/* Stops every vassal in parallel; the loop exits once all are gone. */
void manager_stop(Manager *m);
/* Exits the loop when stopping and nothing runs any more. */
void manager_maybe_exit(Manager *m);
Instance *manager_find(Manager *m, const char *name);
void manager_add(Manager *m, Instance *i);
void manager_remove(Manager *m, Instance *i);
/* sd_notify STATUS= with the fleet's counts. */
void manager_update_status(Manager *m);
/* Takes over a killed vassal's cgroup path, to remove it once its processes are gone. */
void manager_forget_cgroup(Manager *m, char *path);
/* Reaps children that are not ours to watch: grandchildren of vassals reparented to us (we
 * are a subreaper) after their parent died. */
void manager_reap_orphans(Manager *m);
/* The processes the emperor watches (vassals and their checks), each with the instance it
 * belongs to: the notify socket and the orphan reaper find a pid's owner in O(log n), not by
 * walking the fleet. o is the caller's (in its Proc or Check) and stays in the index until
 * removed. add: 0 or -ENOMEM; remove: a no-op for one not there. */
int manager_pid_add(Manager *m, PidOwner *o);
void manager_pid_remove(Manager *m, PidOwner *o);
Instance *manager_pid_owner(Manager *m, pid_t pid);
