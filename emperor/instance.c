/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "cgroup.h"
#include "check.h"
#include "history.h"
#include "instance.h"
#include "log.h"
#include "notify.h"
#include "runstate.h"
#include "socks.h"
#include "users.h"
#include "vini.h"

#define USEC_PER_SEC 1000000ULL
/* The most sockets a vassal is given (fd 3 on). */
#define PROC_FDS_MAX 64

static const char *const state_names[_STATE_MAX] = {
        [STATE_STARTING] = "starting",
        [STATE_RUNNING] = "running",
        [STATE_RELOADING] = "reloading",
        [STATE_STOPPING] = "stopping",
        [STATE_STOPPED] = "stopped",
        [STATE_CRASH_LOOP] = "crash-loop",
        [STATE_CONFIG_ERROR] = "config-error",
};

const char *instance_state_to_string(InstanceState s) {
        return s >= 0 && s < _STATE_MAX ? state_names[s] : "unknown";
}

/* What happens to an instance. Each is dispatched once, to the cell of the table below for
 * the instance's state; the handlers of the world (the scan, the exit of a child, a timer, a
 * notify datagram, a command) only say which. */
typedef enum InstanceEvent {
        EVENT_INI_ADDED,
        EVENT_INI_CHANGED,
        EVENT_INI_REMOVED,
        EVENT_CHECK_OK,
        EVENT_CHECK_FAILED,
        EVENT_READY,           /* the process we wait for (the new one) reported READY=1 */
        EVENT_READY_TIMEOUT,   /* ... or did not, in time */
        EVENT_EXIT_ASKED,      /* a process we stopped, or an old one, died */
        EVENT_EXIT,            /* the serving process died unasked */
        EVENT_EXIT_CONFIG,     /* ... with 78: bad config */
        EVENT_NEW_EXIT,        /* the new process of a reload died before it was ready */
        EVENT_BACKOFF_EXPIRED,
        EVENT_CMD_STOP,
        EVENT_CMD_START,
        EVENT_CMD_RESTART,
        EVENT_CMD_RELOAD,
        EVENT_CMD_CHAIN_RELOAD,
        EVENT_SHUTDOWN,
        EVENT_HUNG,            /* the serving process stopped reporting (reports.c) */
        _EVENT_MAX,
} InstanceEvent;

static const char *const event_names[_EVENT_MAX] = {
        [EVENT_INI_ADDED] = "ini-added",
        [EVENT_INI_CHANGED] = "ini-changed",
        [EVENT_INI_REMOVED] = "ini-removed",
        [EVENT_CHECK_OK] = "check-ok",
        [EVENT_CHECK_FAILED] = "check-failed",
        [EVENT_READY] = "ready",
        [EVENT_READY_TIMEOUT] = "ready-timeout",
        [EVENT_EXIT_ASKED] = "exit-asked",
        [EVENT_EXIT] = "exit",
        [EVENT_EXIT_CONFIG] = "exit-config",
        [EVENT_NEW_EXIT] = "new-exit",
        [EVENT_BACKOFF_EXPIRED] = "backoff-expired",
        [EVENT_CMD_STOP] = "cmd-stop",
        [EVENT_CMD_START] = "cmd-start",
        [EVENT_CMD_RESTART] = "cmd-restart",
        [EVENT_CMD_RELOAD] = "cmd-reload",
        [EVENT_CMD_CHAIN_RELOAD] = "cmd-chain-reload",
        [EVENT_SHUTDOWN] = "shutdown",
        [EVENT_HUNG] = "hung",
};

typedef struct Proc Proc;
struct Proc {
        Manager *m;
        Instance *inst;
        Proc *next; /* in the instance's list of old processes being stopped */
        pid_t pid;
        PidOwner owner; /* in the manager's index while it runs */
        ManagerChild *child;
        ManagerTimer *timer; /* readiness deadline, then the SIGKILL deadline */
        uint64_t started;    /* CLOCK_MONOTONIC µs */
        bool ready;
        bool stopping; /* we asked it to go */
        bool timed_out;
        char *cgroup;
        unsigned seq;        /* the spawn sequence number (its cgroup's name) */
        uint64_t start_ticks; /* /proc/PID/stat's starttime: its identity in RUN_DIR */
        char boot_id[40];
        bool recorded;       /* it has an entry in RUN_DIR/vassals (runstate.h) */
        const char *phase;   /* RELOADING=1, STOPPING=1 until READY=1: "reloading", ... */
        uint64_t watchdog_usec; /* WATCHDOG_USEC= it promised; 0: none */
        ManagerTimer *watchdog;
        char *status;        /* its last STATUS= */
        VassalStats stats;   /* its last X_STATS=, decoded */
        uint64_t stats_usec; /* when it came (CLOCK_MONOTONIC); 0: none yet */
        SockSet socks;
};

struct Instance {
        Manager *m;
        const ManagerOps *ops;
        Instance *next;
        char *name;
        char *path;
        ScanKey key;
        uid_t file_uid;
        gid_t file_gid;
        bool seen;

        InstanceState state;
        Proc *cur; /* serving (or starting) */
        Proc *nxt; /* blue-green: the new one, until it is ready */
        Proc *old; /* being stopped */
        Check *check;
        ManagerTimer *backoff_timer;
        uint64_t backoff_until;
        Backoff backoff;

        SockSet socks; /* the current set, in the order the vassal adopts them */
        int64_t mercy;
        bool drop;
        uid_t run_uid;
        gid_t run_gid;

        unsigned restarts;
        char *last_error;
        char *last_exit;
        char *warnings; /* of the last check: "file:line: warning: ..." lines */

        unsigned attempt;        /* attempts begun (instance.h) */
        InstanceWatch *watches;  /* control.c's waiters */

        bool pending; /* the ini changed (or reload asked) while busy: apply when settled */
        bool removed; /* the ini is gone: free once stopped */
        bool restart_after_stop;
};

/* What an event carries to its action. */
typedef struct EventData {
        Proc *proc;            /* READY, READY_TIMEOUT, the exits: the process */
        const siginfo_t *si;   /* the exits */
        const char *how;       /* the exits: "exited with status 1" */
        uint64_t lived;        /* the exits: µs */
        const char *message;   /* CHECK_FAILED: why */
        const char *error;     /* out: a command's refusal */
} EventData;

typedef int (*InstanceAction)(Instance *i, EventData *d);

static uint64_t instance_now(const Instance *i) {
        return i->ops->now(i->m);
}

static void set_str(char **p, const char *v) {
        free(*p);
        *p = v ? strdup(v) : NULL;
}

/* Tells every watch how an attempt (or a stop) ended. */
static void instance_tell(Instance *i, InstanceOutcome o, const char *error) {
        for (InstanceWatch *w = i->watches, *next; w; w = next) {
                next = w->next;
                w->tell(w, i, o, i->attempt, i->restart_after_stop, error);
        }
}

/* A check's output, split: its warning lines (kept, to show in status), and the rest, the
 * errors, in *ret_errors (NULL when there are none, or on OOM). Its "FILE: OK" goes. */
static void split_warnings(Instance *i, const char *output, char **ret_errors) {
        size_t size = strlen(strempty(output)) + 1, ne = 0, nw = 0;
        _cleanup_free_ char *errors = malloc(size), *warnings = malloc(size);

        *ret_errors = NULL;
        if (!errors || !warnings)
                return;
        for (const char *l = strempty(output); *l;) {
                size_t n = strcspn(l, "\n");
                bool warning = memmem(l, n, "warning:", 8) != NULL;
                bool ok = n >= 4 && memcmp(l + n - 4, ": OK", 4) == 0;
                char *buf = warning ? warnings : errors;
                size_t *len = warning ? &nw : &ne;
                if (n > 0 && !ok) {
                        if (*len > 0)
                                buf[(*len)++] = '\n';
                        memcpy(buf + *len, l, n);
                        *len += n;
                }
                l += n + (l[n] == '\n');
        }
        errors[ne] = warnings[nw] = '\0';
        free(i->warnings);
        i->warnings = nw > 0 ? TAKE_PTR(warnings) : NULL;
        *ret_errors = ne > 0 ? TAKE_PTR(errors) : NULL;
}

/* Every transition goes through here, and is logged here, once. */
static void instance_set_state(Instance *i, InstanceState s) {
        if (i->state == s)
                return;
        log_full_errno(s == STATE_CRASH_LOOP || s == STATE_CONFIG_ERROR ? LOG_WARNING : LOG_NOTICE, 0,
                       "vassal '%s': %s -> %s", i->name, instance_state_to_string(i->state),
                       instance_state_to_string(s));
        history_transition(manager_history(i->m), i, i->state, s,
                           s == STATE_CONFIG_ERROR ? i->last_error
                           : s == STATE_CRASH_LOOP ? i->last_exit : NULL);
        i->state = s;
        manager_update_status(i->m);
}

/* ---- processes ---- */

/* Its entry in RUN_DIR/vassals, for the next emperor to adopt it (runstate.h). */
static void proc_record(Proc *p, bool serving) {
        Instance *i = p->inst;
        RunState s = {
                .name = i->name,
                .ini = i->path,
                .pid = p->pid,
                .start_ticks = p->start_ticks,
                .serving = serving,
                .seq = p->seq,
                .cgroup = p->cgroup,
                .key = i->key,
                .uid = i->file_uid,
                .gid = i->file_gid,
                .n_socks = p->socks.n,
        };
        if (!p->start_ticks)
                return; /* not identified: not adoptable (a fake never spawned for real) */
        memcpy(s.boot_id, p->boot_id, sizeof(s.boot_id));
        for (size_t k = 0; k < p->socks.n && k < RUNSTATE_SOCKS_MAX; k++)
                s.addresses[k] = (char *) socks_address(&p->socks, k);
        if (runstate_save(manager_run_dir(p->m), &s) >= 0)
                p->recorded = true;
}

static void proc_free(Proc *p) {
        if (!p)
                return;
        manager_pid_remove(p->m, &p->owner);
        manager_ops(p->m)->release(p->m, p->child);
        manager_ops(p->m)->timer_disarm(p->m, p->timer);
        manager_ops(p->m)->timer_disarm(p->m, p->watchdog);
        if (manager_detaching(p->m)) {
                /* The emperor leaves and the vassal stays: its record, cgroup and sockets are
                 * the next emperor's. */
                free(p->cgroup);
                socks_release(&p->socks);
                free(p->status);
                vstats_done(&p->stats);
                free(p);
                return;
        }
        if (p->recorded)
                runstate_remove(manager_run_dir(p->m), p->inst->name, p->pid);
        if (p->cgroup) {
                cgroup_kill(p->cgroup);
                /* Removed once empty: at once, or by the reaper while they die. */
                manager_forget_cgroup(p->m, TAKE_PTR(p->cgroup));
        }
        socks_release(&p->socks);
        free(p->status);
        vstats_done(&p->stats);
        free(p);
}

static void proc_signal(Proc *p, int sig) {
        p->inst->ops->signal(p->m, p->child, sig);
}

static void on_proc_kill_deadline(void *userdata) {
        Proc *p = userdata;
        p->timer = p->inst->ops->timer_disarm(p->m, p->timer);
        log_warning("vassal '%s' (pid %d) still running after reload-mercy: killing it",
                    p->inst->name, p->pid);
        proc_signal(p, SIGKILL);
        p->inst->ops->kill_tree(p->m, p->pid, p->cgroup);
}

/* Asks a process to stop gracefully, with SIGKILL for the whole tree after the mercy. */
static void proc_stop(Proc *p) {
        if (p->stopping)
                return;
        p->stopping = true;
        proc_signal(p, SIGTERM);
        (void) p->inst->ops->timer_arm(p->m, (uint64_t) (p->inst->mercy + 1) * USEC_PER_SEC,
                                       on_proc_kill_deadline, p, &p->timer);
}

static void old_remove(Instance *i, Proc *p) {
        for (Proc **pp = &i->old; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        return;
                }
}

/* Moves a process to the old ones and stops it. */
static void proc_retire(Instance *i, Proc *p) {
        old_remove(i, p);
        p->next = i->old;
        i->old = p;
        proc_stop(p);
}

static bool instance_idle(const Instance *i) {
        return !i->cur && !i->nxt && !i->old;
}

/* No process of ours left, not even a check. */
static bool instance_quiet(const Instance *i) {
        return instance_idle(i) && !i->check;
}

/* ---- the state machine ---- */

static int instance_dispatch(Instance *i, InstanceEvent ev, EventData *d);

static void describe_exit(const siginfo_t *si, char *buf, size_t size) {
        if (si->si_code == 0)
                snprintf(buf, size, "exited (how is unknown: adopted, not our child)");
        else if (si->si_code == CLD_EXITED)
                snprintf(buf, size, "exited with status %d", si->si_status);
        else
                snprintf(buf, size, "killed by signal %s%s", sigabbrev_np(si->si_status) ?: "?",
                         si->si_code == CLD_DUMPED ? " (core dumped)" : "");
}

/* Its last STATUS= says why it exited only when it exited for one: a config error (78) or a
 * failed exec (127); otherwise it is the last progress report. */
static bool exit_has_reason(const siginfo_t *si) {
        return si->si_code == CLD_EXITED && (si->si_status == EX_CONFIG || si->si_status == 127);
}

static void on_proc_exit(void *userdata, const siginfo_t *si, const char *output) {
        Proc *p = userdata;
        Instance *i = p->inst;
        char how[96];
        InstanceEvent ev;
        (void) output;

        describe_exit(si, how, sizeof(how));
        bool because = p->status && exit_has_reason(si);
        history_event(manager_history(i->m), i, "exit", "pid %d %s%s%s", p->pid, how,
                      because ? ": " : "", because ? p->status : "");
        EventData d = { .proc = p, .si = si, .how = how, .lived = instance_now(i) - p->started };
        if (p->recorded) {
                /* Now: the action may free the instance, and the name with it. */
                runstate_remove(manager_run_dir(i->m), i->name, p->pid);
                p->recorded = false;
        }
        p->child = i->ops->release(i->m, p->child);
        p->timer = i->ops->timer_disarm(i->m, p->timer);
        p->watchdog = i->ops->timer_disarm(i->m, p->watchdog);
        /* The master is gone: anything it left (workers, an app's grandchildren) goes too. */
        i->ops->kill_tree(i->m, p->pid, p->cgroup);

        /* Out of the instance's lists before the action runs: it sees what is left. */
        if (p == i->cur && !p->stopping) {
                log_warning("vassal '%s' (pid %d) %s%s%s", i->name, p->pid, how,
                            because ? ": " : "", because ? p->status : "");
                set_str(&i->last_exit, how);
                if (p->timed_out)
                        set_str(&i->last_error, "did not report READY=1 in time");
                else if (because)
                        set_str(&i->last_error, p->status);
                i->cur = NULL;
                ev = si->si_code == CLD_EXITED && si->si_status == EX_CONFIG ? EVENT_EXIT_CONFIG
                                                                              : EVENT_EXIT;
        } else if (p == i->nxt) {
                i->nxt = NULL;
                ev = EVENT_NEW_EXIT;
        } else {
                log_info("vassal '%s' (pid %d) %s", i->name, p->pid, how);
                if (p == i->cur)
                        i->cur = NULL;
                else
                        old_remove(i, p);
                ev = EVENT_EXIT_ASKED;
        }
        /* The action may free the instance, never p. */
        (void) instance_dispatch(i, ev, &d);
        proc_free(p);
}

static void on_ready_deadline(void *userdata) {
        Proc *p = userdata;
        Instance *i = p->inst;

        p->timer = i->ops->timer_disarm(i->m, p->timer);
        log_warning("vassal '%s' (pid %d) not ready after %u s", i->name, p->pid,
                    manager_ready_timeout(i->m));
        (void) instance_dispatch(i, EVENT_READY_TIMEOUT, &(EventData) { .proc = p });
}

/* Starts a vassal on the instance's config and sockets. Returns 0 or -errno (logged). */
static int proc_spawn(Instance *i, Proc **ret) {
        Manager *m = i->m;
        char stats[48], name_env[160], seq[160], notify[4200];
        int fds[PROC_FDS_MAX];
        int r, exec_errno;

        Proc *p = calloc(1, sizeof(Proc));
        if (!p)
                return log_oom();
        p->m = m;
        p->inst = i;
        r = socks_copy(&i->socks, ELEMENTSOF(fds), &p->socks);
        if (r < 0) {
                free(p);
                return log_oom();
        }
        for (size_t k = 0; k < p->socks.n; k++)
                fds[k] = socks_fd(&p->socks, k);

        p->seq = manager_spawn_seq(m);
        snprintf(seq, sizeof(seq), "%s.%u", i->name, p->seq);
        if (manager_cgroup_root(m))
                p->cgroup = cgroup_create(manager_cgroup_root(m), seq);

        snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", manager_notify_path(m));
        snprintf(stats, sizeof(stats), "EMPEROR_STATS_INTERVAL=%u", manager_stats_interval(m));
        snprintf(name_env, sizeof(name_env), "EMPEROR_VASSAL=%s", i->name);
        char reports[4200];
        snprintf(reports, sizeof(reports), "EMPEROR_STATS_SOCKET=%s", manager_reports_path(m));
        char *env[] = { notify, reports, stats, name_env, NULL };
        char *argv[] = { (char *) "vassal", i->path, NULL };
        SpawnOptions o = {
                .path = manager_vassal_path(m),
                .argv = argv,
                .env_add = env,
                .fds = fds,
                .n_fds = p->socks.n,
                .stdout_fd = -1,
                .cgroup = p->cgroup,
                .drop = i->drop,
                .uid = i->run_uid,
                .gid = i->run_gid,
        };
        r = i->ops->spawn(m, &o, false, on_proc_exit, p, &p->pid, &exec_errno, &p->child);
        if (r < 0) {
                log_error_errno(r, "vassal '%s': cannot spawn: %m", i->name);
                proc_free(p);
                return r;
        }
        p->started = instance_now(i);
        /* Known by pid, or its notifications would be ignored and the reaper take it for an
         * orphan. */
        p->owner = (PidOwner) { p->pid, i };
        r = manager_pid_add(m, &p->owner);
        if (r < 0) {
                log_error_errno(r, "vassal '%s': cannot watch pid %d: %m", i->name, p->pid);
                proc_signal(p, SIGKILL);
                proc_free(p); /* the reaper reaps it */
                return r;
        }
        if (exec_errno != 0) {
                char *msg = NULL;
                if (asprintf(&msg, "cannot execute '%s': %s", manager_vassal_path(m),
                             strerror(exec_errno)) >= 0) {
                        log_error("vassal '%s': %s", i->name, msg);
                        free(p->status);
                        p->status = msg;
                }
        }
        (void) i->ops->timer_arm(m, (uint64_t) manager_ready_timeout(m) * USEC_PER_SEC,
                                 on_ready_deadline, p, &p->timer);
        if (exec_errno == 0 && runstate_identify(p->pid, &p->start_ticks, p->boot_id) >= 0)
                proc_record(p, false);
        log_info("vassal '%s': spawned pid %d%s", i->name, p->pid, p->cgroup ? "" : " (no cgroup)");
        history_event(manager_history(m), i, "spawn", "pid %d", p->pid);
        *ret = p;
        return 0;
}

static void on_backoff(void *userdata) {
        Instance *i = userdata;
        i->backoff_timer = i->ops->timer_disarm(i->m, i->backoff_timer);
        (void) instance_dispatch(i, EVENT_BACKOFF_EXPIRED, &(EventData) {});
}

static void instance_settle(Instance *i);
static void instance_begin(Instance *i);
static void instance_spawn(Instance *i);

/* An unasked death of the serving process (or a start that could not happen): a respawn,
 * paced by the backoff. */
static void instance_crashed(Instance *i, uint64_t lived) {
        i->restarts++;
        instance_tell(i, INSTANCE_FAILED, i->last_exit ?: i->last_error);
        uint64_t delay = backoff_next(&i->backoff, lived);
        if (delay == 0) {
                instance_spawn(i);
                return;
        }
        i->backoff_until = instance_now(i) + delay;
        log_warning("vassal '%s' respawns in %.1f s", i->name, (double) delay / USEC_PER_SEC);
        instance_set_state(i, STATE_CRASH_LOOP);
        (void) i->ops->timer_arm(i->m, delay, on_backoff, i, &i->backoff_timer);
        instance_settle(i);
}

/* Starts the serving process with the current config and sockets (first start, respawn). */
static void instance_spawn(Instance *i) {
        i->backoff_timer = i->ops->timer_disarm(i->m, i->backoff_timer);
        if (i->cur)
                proc_retire(i, TAKE_PTR(i->cur));
        instance_set_state(i, STATE_STARTING);
        if (proc_spawn(i, &i->cur) < 0) {
                i->cur = NULL;
                set_str(&i->last_error, "cannot spawn the vassal");
                instance_crashed(i, 0);
        }
}

/* The check passed: the config's sockets, its user, then the process (a start, or a reload
 * beside the running one). */
static void instance_apply(Instance *i) {
        VassalIni v;
        _cleanup_free_ char *error = NULL;
        SockSet set = {};
        int r;

        r = vini_load(&v, i->path, &error);
        if (r >= 0) {
                i->mercy = v.reload_mercy;
                i->drop = false;
                if (manager_tyrant(i->m)) {
                        /* Each vassal runs as its ini's owner; root's inis are refused. */
                        if (i->file_uid == 0) {
                                r = -EPERM;
                                error = strdup("tyrant mode: refusing an ini owned by root");
                        } else {
                                i->drop = true;
                                i->run_uid = i->file_uid;
                                i->run_gid = i->file_gid;
                        }
                } else if (v.uid || v.gid) {
                        /* As the vassal resolves them (lib/users.h), refused as it would. */
                        Credentials c;
                        char message[300];
                        r = credentials_resolve(v.uid, v.gid, &c, message, sizeof(message));
                        if (r >= 0) {
                                i->drop = true;
                                i->run_uid = c.set_uid ? c.uid : getuid();
                                i->run_gid = c.set_gid ? c.gid : getgid();
                                credentials_done(&c);
                        } else if (r != -ENOMEM)
                                error = strdup(message);
                }
        }
        if (r >= 0) {
                free(error);
                r = socks_bind(i->m, &i->socks, &v,
                               manager_tyrant(i->m) ? &(SockOwner) { i->run_uid, i->run_gid }
                                                    : NULL,
                               &set, &error);
        }
        vini_done(&v);

        bool reload = i->cur && i->cur->ready && i->state == STATE_RUNNING;
        if (r < 0) {
                set_str(&i->last_error, error ? error : strerror(-r));
                log_error("vassal '%s': %s", i->name, i->last_error);
                instance_tell(i, INSTANCE_FAILED, i->last_error);
                if (reload) {
                        log_warning("vassal '%s': keeping the running one", i->name);
                        history_event(manager_history(i->m), i, "config-error",
                                      "%s (the running one keeps serving)", i->last_error);
                        instance_settle(i);
                } else if (r == -EADDRINUSE || r == -EADDRNOTAVAIL || r == -EACCES) {
                        instance_crashed(i, 0); /* may free up: retry with the backoff */
                } else {
                        instance_set_state(i, STATE_CONFIG_ERROR);
                        instance_settle(i);
                }
                return;
        }

        socks_release(&i->socks);
        i->socks = set;
        if (!reload) {
                instance_spawn(i);
                return;
        }
        instance_set_state(i, STATE_RELOADING);
        if (proc_spawn(i, &i->nxt) < 0) {
                i->nxt = NULL;
                set_str(&i->last_error, "reload failed: cannot spawn the new vassal");
                instance_set_state(i, STATE_RUNNING);
                instance_tell(i, INSTANCE_FAILED, i->last_error);
        }
}

static void on_check_done(void *userdata, bool ok, const char *message) {
        Instance *i = userdata;
        i->check = check_free(i->check);
        (void) instance_dispatch(i, ok ? EVENT_CHECK_OK : EVENT_CHECK_FAILED,
                                 &(EventData) { .message = message });
}

/* Starts applying the ini as it is now: check it, then start or reload. While a check, a
 * start or a reload is under way, the change is remembered and applied once it settles. */
static void instance_begin(Instance *i) {
        if (i->check || i->nxt || (i->cur && !i->cur->ready)) {
                i->pending = true;
                return;
        }
        i->pending = false;
        i->attempt++;
        int r = check_start(i->m, i, i->path, on_check_done, i, &i->check);
        if (r < 0) {
                i->check = NULL;
                log_error_errno(r, "vassal '%s': cannot run the check: %m", i->name);
                instance_tell(i, INSTANCE_FAILED, "cannot run the check");
        }
}

/* Called whenever the instance reached a resting state: applies a change that came in the
 * meantime. */
static void instance_settle(Instance *i) {
        if (i->pending && !i->removed && !manager_stopping(i->m) && i->state != STATE_STOPPING)
                instance_begin(i);
}

static void instance_stop_all(Instance *i) {
        i->backoff_timer = i->ops->timer_disarm(i->m, i->backoff_timer);
        if (i->check)
                check_kill(i->check); /* its end is ignored while stopping */
        if (i->nxt)
                proc_stop(i->nxt);
        if (i->cur)
                proc_stop(i->cur);
        for (Proc *p = i->old; p; p = p->next)
                proc_stop(p);
        /* Our copies of the sockets go now; the port closes when the vassal's do. */
        socks_release(&i->socks);
}

/* Nothing of the instance runs any more: stopped, or gone (i is freed). */
static void instance_finish_stop(Instance *i) {
        Manager *m = i->m;

        if (i->removed) {
                log_notice("vassal '%s': stopped and removed", i->name);
                manager_remove(m, i);
                instance_free(i);
                manager_maybe_exit(m);
                return;
        }
        instance_set_state(i, STATE_STOPPED);
        instance_tell(i, INSTANCE_STOPPED, NULL);
        if (manager_stopping(m)) {
                manager_maybe_exit(m);
                return;
        }
        if (i->restart_after_stop) {
                i->restart_after_stop = false;
                backoff_reset(&i->backoff);
                instance_begin(i);
        }
}

static void instance_stop(Instance *i) {
        instance_stop_all(i);
        if (instance_quiet(i))
                instance_finish_stop(i);
        else
                instance_set_state(i, STATE_STOPPING);
}

/* ---- the actions: one per cell of the table ---- */

static int act_found(Instance *i, EventData *d) {
        (void) d;
        log_notice("vassal '%s': found %s", i->name, i->path);
        history_event(manager_history(i->m), i, "found", "%s", i->path);
        instance_begin(i);
        return 0;
}

/* The ini changed while it starts, runs or reloads: check it and reload. */
static int act_changed(Instance *i, EventData *d) {
        (void) d;
        log_notice("vassal '%s': %s changed", i->name, i->path);
        history_event(manager_history(i->m), i, "changed", "%s", i->path);
        instance_begin(i);
        return 0;
}

/* The ini changed while nothing runs (stopped, crash-loop, config-error): a fresh start, now. */
static int act_changed_retry(Instance *i, EventData *d) {
        (void) d;
        log_notice("vassal '%s': %s changed", i->name, i->path);
        history_event(manager_history(i->m), i, "changed", "%s", i->path);
        i->backoff_timer = i->ops->timer_disarm(i->m, i->backoff_timer);
        backoff_reset(&i->backoff);
        instance_set_state(i, STATE_STARTING);
        instance_begin(i);
        return 0;
}

static int act_remove(Instance *i, EventData *d) {
        (void) d;
        log_notice("vassal '%s': %s is gone, stopping", i->name, i->path);
        history_event(manager_history(i->m), i, "removed", "%s", i->path);
        i->removed = true;
        instance_stop(i); /* may free i */
        return 0;
}

static int act_apply(Instance *i, EventData *d) {
        _cleanup_free_ char *errors = NULL;

        split_warnings(i, d->message, &errors); /* a passed check says only warnings */
        if (i->pending) {
                /* The ini changed again while we checked: check the newest. */
                instance_begin(i);
                return 0;
        }
        instance_apply(i);
        return 0;
}

static int act_reject(Instance *i, EventData *d) {
        _cleanup_free_ char *errors = NULL;

        if (i->pending) {
                instance_begin(i);
                return 0;
        }
        /* The errors are the last error; the warnings that came with them, warnings (a
         * warning first would otherwise be all that a one-line view shows). */
        split_warnings(i, d->message, &errors);
        set_str(&i->last_error, errors ?: d->message);
        instance_tell(i, INSTANCE_FAILED, i->last_error);
        bool serving = i->cur && i->cur->ready;
        log_error("vassal '%s': the ini does not pass the check%s:\n%s", i->name,
                  serving ? " (the running one keeps serving)" : "", d->message);
        if (!serving)
                instance_set_state(i, STATE_CONFIG_ERROR);
        else
                history_event(manager_history(i->m), i, "config-error",
                              "%s (the running one keeps serving)", d->message);
        return 0;
}

/* The starting vassal is ready. */
static int act_up(Instance *i, EventData *d) {
        if (d->proc != i->cur)
                return 0;
        instance_set_state(i, STATE_RUNNING);
        instance_tell(i, INSTANCE_UP, NULL);
        instance_settle(i);
        return 0;
}

/* Blue-green: the new one serves; the old one finishes its requests. */
static int act_reloaded(Instance *i, EventData *d) {
        if (d->proc != i->nxt)
                return 0;
        Proc *old = i->cur;
        i->cur = TAKE_PTR(i->nxt);
        if (old)
                proc_retire(i, old);
        set_str(&i->last_error, NULL);
        log_notice("vassal '%s': reloaded (pid %d)", i->name, i->cur->pid);
        instance_set_state(i, STATE_RUNNING);
        instance_tell(i, INSTANCE_UP, NULL);
        instance_settle(i);
        return 0;
}

/* The starting vassal is late: killed, its exit is the crash. */
static int act_kill_late(Instance *i, EventData *d) {
        (void) i;
        d->proc->timed_out = true;
        proc_signal(d->proc, SIGKILL);
        return 0;
}

/* The new vassal of a reload is late: given up (its exit reports the failed reload). */
static int act_abandon_new(Instance *i, EventData *d) {
        if (d->proc != i->nxt)
                return act_kill_late(i, d);
        set_str(&d->proc->status, "not ready in time");
        proc_stop(d->proc);
        proc_signal(d->proc, SIGKILL);
        return 0;
}

static int act_crash(Instance *i, EventData *d) {
        instance_crashed(i, d->lived);
        return 0;
}

static int act_config_exit(Instance *i, EventData *d) {
        (void) d;
        i->restarts++;
        if (!i->last_error)
                set_str(&i->last_error, "exited with status 78: bad config or the app "
                                        "failed to import (see the vassal's log)");
        instance_set_state(i, STATE_CONFIG_ERROR);
        instance_tell(i, INSTANCE_FAILED, i->last_error);
        instance_settle(i);
        return 0;
}

/* The old vassal died during a reload: the new one takes over, when ready. */
static int act_takeover(Instance *i, EventData *d) {
        if (!i->nxt)
                return d->si->si_status == EX_CONFIG && d->si->si_code == CLD_EXITED
                               ? act_config_exit(i, d)
                               : act_crash(i, d);
        i->cur = TAKE_PTR(i->nxt);
        instance_set_state(i, STATE_STARTING);
        return 0;
}

static int act_reload_failed(Instance *i, EventData *d) {
        const Proc *p = d->proc;
        bool reason = p->stopping || exit_has_reason(d->si);
        const char *why = reason ? p->status : NULL;
        char *msg = NULL;

        if (asprintf(&msg, "reload failed: the new vassal %s%s%s", d->how, why ? ": " : "",
                     strempty(why)) < 0)
                msg = NULL;
        log_warning("vassal '%s': %s; the old one keeps serving", i->name, strempty(msg));
        free(i->last_error);
        i->last_error = msg;
        instance_set_state(i, STATE_RUNNING);
        instance_tell(i, INSTANCE_FAILED, msg ?: "reload failed");
        instance_settle(i);
        return 0;
}

/* Something of a stopping instance ended: done when nothing is left. */
static int act_reap(Instance *i, EventData *d) {
        (void) d;
        if (instance_quiet(i))
                instance_finish_stop(i); /* may free i */
        return 0;
}

static int act_respawn(Instance *i, EventData *d) {
        (void) d;
        instance_spawn(i);
        return 0;
}

static int act_stop(Instance *i, EventData *d) {
        (void) d;
        i->restart_after_stop = false;
        instance_stop(i); /* may free i */
        return 0;
}

static int act_start(Instance *i, EventData *d) {
        (void) d;
        i->backoff_timer = i->ops->timer_disarm(i->m, i->backoff_timer);
        backoff_reset(&i->backoff);
        instance_set_state(i, STATE_STARTING);
        instance_begin(i);
        return 0;
}

static int act_start_after_stop(Instance *i, EventData *d) {
        (void) d;
        i->restart_after_stop = true;
        return 0;
}

static int act_restart(Instance *i, EventData *d) {
        (void) d;
        i->restart_after_stop = true;
        instance_stop(i);
        return 0;
}

static int act_reload(Instance *i, EventData *d) {
        (void) d;
        instance_begin(i);
        return 0;
}

/* In place, by the vassal itself: its workers are replaced one at a time. */
static int act_chain_reload(Instance *i, EventData *d) {
        if (!i->cur || !i->cur->ready) {
                d->error = "not running";
                return -ESRCH;
        }
        proc_signal(i->cur, SIGUSR2);
        return 0;
}

/* The serving process sent no stats for d->lived µs: hung (a stopped or wedged master). Its
 * whole tree is killed; its exit is the unasked death that restarts it. */
static int act_hung(Instance *i, EventData *d) {
        Proc *p = d->proc;
        double silent = (double) d->lived / USEC_PER_SEC;

        if (p != i->cur || p->stopping)
                return 0;
        /* d->message: its own watchdog's word (WATCHDOG_USEC=), else our stats silence. */
        const char *what = d->message ? "missed its watchdog" : "sent no stats";
        log_warning("vassal '%s' (pid %d) %s for %.0f s: hung, killing it", i->name, p->pid, what,
                    silent);
        history_event(manager_history(i->m), i, d->message ? "watchdog" : "hung",
                      "pid %d %s for %.0f s", p->pid, what, silent);
        proc_signal(p, SIGKILL);
        i->ops->kill_tree(i->m, p->pid, p->cgroup);
        return 0;
}

/* A cell: an action, or a refusal (error set), or nothing (the event is ignored). */
typedef struct Transition {
        InstanceAction action;
        int error;
        const char *message;
} Transition;

#define DO(f) { .action = (f) }
#define REFUSE(e, msg) { .error = (e), .message = (msg) }

/* What every state answers the same way. */
#define COMMON [EVENT_INI_REMOVED] = DO(act_remove), [EVENT_SHUTDOWN] = DO(act_stop)

/* What the states with no process serving answer: a start, or restart, from scratch. */
#define IDLE                                                                       \
        COMMON, [EVENT_INI_CHANGED] = DO(act_changed_retry),                       \
        [EVENT_CHECK_OK] = DO(act_apply), [EVENT_CHECK_FAILED] = DO(act_reject),   \
        [EVENT_READY_TIMEOUT] = DO(act_kill_late), [EVENT_EXIT] = DO(act_crash),   \
        [EVENT_EXIT_CONFIG] = DO(act_config_exit), [EVENT_CMD_START] = DO(act_start), \
        [EVENT_CMD_RESTART] = DO(act_start),                                       \
        [EVENT_CMD_RELOAD] = REFUSE(ESRCH, "not running: use start"),              \
        [EVENT_CMD_CHAIN_RELOAD] = REFUSE(ESRCH, "not running")

static const Transition transitions[_STATE_MAX][_EVENT_MAX] = {
        [STATE_STARTING] = {
                COMMON,
                [EVENT_HUNG] = DO(act_hung),
                [EVENT_INI_ADDED] = DO(act_found),
                [EVENT_INI_CHANGED] = DO(act_changed),
                [EVENT_CHECK_OK] = DO(act_apply),
                [EVENT_CHECK_FAILED] = DO(act_reject),
                [EVENT_READY] = DO(act_up),
                [EVENT_READY_TIMEOUT] = DO(act_kill_late),
                [EVENT_EXIT] = DO(act_crash),
                [EVENT_EXIT_CONFIG] = DO(act_config_exit),
                [EVENT_CMD_STOP] = DO(act_stop),
                [EVENT_CMD_START] = REFUSE(EALREADY, "already running"),
                [EVENT_CMD_RESTART] = DO(act_restart),
                [EVENT_CMD_RELOAD] = DO(act_reload),
                [EVENT_CMD_CHAIN_RELOAD] = REFUSE(ESRCH, "not running"),
        },
        [STATE_RUNNING] = {
                COMMON,
                [EVENT_HUNG] = DO(act_hung),
                [EVENT_INI_CHANGED] = DO(act_changed),
                [EVENT_CHECK_OK] = DO(act_apply),
                [EVENT_CHECK_FAILED] = DO(act_reject),
                [EVENT_READY_TIMEOUT] = DO(act_kill_late),
                [EVENT_EXIT] = DO(act_crash),
                [EVENT_EXIT_CONFIG] = DO(act_config_exit),
                [EVENT_CMD_STOP] = DO(act_stop),
                [EVENT_CMD_START] = REFUSE(EALREADY, "already running"),
                [EVENT_CMD_RESTART] = DO(act_restart),
                [EVENT_CMD_RELOAD] = DO(act_reload),
                [EVENT_CMD_CHAIN_RELOAD] = DO(act_chain_reload),
        },
        [STATE_RELOADING] = {
                COMMON,
                [EVENT_HUNG] = DO(act_hung),
                [EVENT_INI_CHANGED] = DO(act_changed), /* remembered until it settles */
                [EVENT_CHECK_OK] = DO(act_apply),
                [EVENT_CHECK_FAILED] = DO(act_reject),
                [EVENT_READY] = DO(act_reloaded),
                [EVENT_READY_TIMEOUT] = DO(act_abandon_new),
                [EVENT_EXIT] = DO(act_takeover),
                [EVENT_EXIT_CONFIG] = DO(act_takeover),
                [EVENT_NEW_EXIT] = DO(act_reload_failed),
                [EVENT_CMD_STOP] = DO(act_stop),
                [EVENT_CMD_START] = REFUSE(EALREADY, "already running"),
                [EVENT_CMD_RESTART] = DO(act_restart),
                [EVENT_CMD_RELOAD] = DO(act_reload),
                [EVENT_CMD_CHAIN_RELOAD] = REFUSE(ESRCH, "not running"),
        },
        [STATE_STOPPING] = {
                /* The ini's changes wait: a removal, or an operator's start, ends the stop. */
                COMMON,
                [EVENT_CHECK_OK] = DO(act_reap),
                [EVENT_CHECK_FAILED] = DO(act_reap),
                [EVENT_EXIT_ASKED] = DO(act_reap),
                [EVENT_EXIT] = DO(act_reap),
                [EVENT_EXIT_CONFIG] = DO(act_reap),
                [EVENT_NEW_EXIT] = DO(act_reap),
                [EVENT_CMD_STOP] = REFUSE(EALREADY, "already stopped"),
                [EVENT_CMD_START] = DO(act_start_after_stop),
                [EVENT_CMD_RESTART] = DO(act_restart),
                [EVENT_CMD_RELOAD] = REFUSE(ESRCH, "not running: use start"),
                [EVENT_CMD_CHAIN_RELOAD] = REFUSE(ESRCH, "not running"),
        },
        [STATE_STOPPED] = {
                IDLE,
                [EVENT_CMD_STOP] = REFUSE(EALREADY, "already stopped"),
        },
        [STATE_CRASH_LOOP] = {
                IDLE,
                [EVENT_BACKOFF_EXPIRED] = DO(act_respawn),
                [EVENT_CMD_STOP] = DO(act_stop),
        },
        [STATE_CONFIG_ERROR] = {
                IDLE,
                [EVENT_CMD_STOP] = DO(act_stop),
        },
};

/* Runs the cell of (state, event). Returns the action's result, or the refusal with
 * d->error set. The action may free i. */
static int instance_dispatch(Instance *i, InstanceEvent ev, EventData *d) {
        assert(i->state >= 0 && i->state < _STATE_MAX && ev >= 0 && ev < _EVENT_MAX);
        const Transition *t = &transitions[i->state][ev];

        log_debug("vassal '%s': %s in %s%s", i->name, event_names[ev],
                  instance_state_to_string(i->state),
                  t->action ? "" : t->error ? ", refused" : ", ignored");
        if (t->action)
                return t->action(i, d);
        if (t->error) {
                d->error = t->message;
                return -t->error;
        }
        return 0;
}

/* ---- the instance ---- */

Instance *instance_new(Manager *m, const ScanEntry *e) {
        Instance *i = calloc(1, sizeof(Instance));
        if (!i)
                return NULL;
        i->m = m;
        i->ops = manager_ops(m);
        i->name = strdup(e->name);
        i->path = strdup(e->path);
        i->key = e->key;
        i->file_uid = e->uid;
        i->file_gid = e->gid;
        i->mercy = 60;
        i->state = STATE_STARTING;
        i->seen = true;
        if (!i->name || !i->path) {
                instance_free(i);
                return NULL;
        }
        return i;
}

int instance_adopt(Instance *i, const RunState *s, int pidfd, int *fds) {
        Manager *m = i->m;
        VassalIni v;
        _cleanup_free_ char *error = NULL;
        struct timespec boot;
        int r;

        Proc *p = calloc(1, sizeof(Proc));
        if (!p) {
                safe_close(pidfd);
                return -ENOMEM;
        }
        p->m = m;
        p->inst = i;
        p->pid = s->pid;
        p->ready = true;
        p->seq = s->seq;
        p->start_ticks = s->start_ticks;
        memcpy(p->boot_id, s->boot_id, sizeof(p->boot_id));
        p->recorded = true;
        if ((s->cgroup && !(p->cgroup = strdup(s->cgroup))) ||
            socks_adopt(s->addresses, fds, s->n_socks, &i->socks) < 0 ||
            socks_copy(&i->socks, PROC_FDS_MAX, &p->socks) < 0) {
                safe_close(pidfd);
                free(p->cgroup);
                free(p);
                return -ENOMEM;
        }
        r = i->ops->adopt(m, s->pid, pidfd, on_proc_exit, p, &p->child);
        if (r < 0) {
                socks_release(&p->socks);
                free(p->cgroup);
                free(p);
                return r;
        }
        /* Its uptime goes on from its real start, not ours. */
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t now = instance_now(i), age = 0;
        if (hz > 0 && clock_gettime(CLOCK_BOOTTIME, &boot) == 0) {
                uint64_t boot_us = (uint64_t) boot.tv_sec * USEC_PER_SEC +
                                   (uint64_t) boot.tv_nsec / 1000;
                uint64_t start_us = s->start_ticks * USEC_PER_SEC / (uint64_t) hz;
                age = boot_us > start_us ? boot_us - start_us : 0;
        }
        p->started = now > age ? now - age : 0;
        p->owner = (PidOwner) { p->pid, i };
        r = manager_pid_add(m, &p->owner);
        if (r < 0) {
                i->ops->release(m, p->child);
                socks_release(&p->socks);
                free(p->cgroup);
                free(p);
                return r;
        }
        if (vini_load(&v, i->path, &error) >= 0) {
                i->mercy = v.reload_mercy;
                vini_done(&v);
        }
        i->cur = p;
        i->state = STATE_RUNNING;
        log_notice("vassal '%s': adopted pid %d (up %.0f s, %zu socket%s taken back)", i->name,
                   p->pid, (double) age / USEC_PER_SEC, i->socks.n, i->socks.n == 1 ? "" : "s");
        history_event(manager_history(m), i, "adopted", "pid %d, up %.0f s", p->pid,
                      (double) age / USEC_PER_SEC);
        return 0;
}

void instance_free(Instance *i) {
        if (!i)
                return;
        /* Each watch removes itself when told. */
        while (i->watches) {
                InstanceWatch *w = i->watches;
                w->tell(w, i, INSTANCE_GONE, i->attempt, false, "removed");
                if (i->watches == w)
                        i->watches = w->next;
        }
        i->ops->timer_disarm(i->m, i->backoff_timer);
        check_free(i->check);
        proc_free(i->cur);
        proc_free(i->nxt);
        while (i->old) {
                Proc *p = i->old;
                i->old = p->next;
                proc_free(p);
        }
        socks_release(&i->socks);
        free(i->name);
        free(i->path);
        free(i->last_error);
        free(i->last_exit);
        free(i->warnings);
        free(i);
}

Instance **instance_link(Instance *i) {
        return &i->next;
}

const ScanKey *instance_key(const Instance *i) {
        return &i->key;
}

const char *instance_name(const Instance *i) {
        return i->name;
}

InstanceState instance_state(const Instance *i) {
        return i->state;
}

uid_t instance_owner(const Instance *i) {
        return i->file_uid;
}

bool instance_seen(Instance *i, bool reset) {
        bool s = i->seen;
        if (reset)
                i->seen = false;
        return s;
}

bool instance_has_processes(const Instance *i) {
        return !instance_quiet(i);
}

/* ---- events from the scan ---- */

void instance_start(Instance *i) {
        (void) instance_dispatch(i, EVENT_INI_ADDED, &(EventData) {});
}

void instance_changed(Instance *i, const ScanEntry *e) {
        i->seen = true;
        if (scan_key_equal(&i->key, &e->key) && streq(i->path, e->path))
                return;
        i->key = e->key;
        i->file_uid = e->uid;
        i->file_gid = e->gid;
        set_str(&i->path, e->path);
        (void) instance_dispatch(i, EVENT_INI_CHANGED, &(EventData) {});
}

void instance_removed(Instance *i) {
        if (i->removed)
                return;
        (void) instance_dispatch(i, EVENT_INI_REMOVED, &(EventData) {});
}

void instance_shutdown(Instance *i) {
        (void) instance_dispatch(i, EVENT_SHUTDOWN, &(EventData) {});
}

/* ---- control commands ---- */

static int instance_command(Instance *i, InstanceEvent ev, const char **ret_error) {
        EventData d = {};
        int r = instance_dispatch(i, ev, &d);
        if (r < 0)
                *ret_error = d.error;
        return r;
}

int instance_cmd_reload(Instance *i, const char **ret_error) {
        return instance_command(i, EVENT_CMD_RELOAD, ret_error);
}

int instance_cmd_chain_reload(Instance *i, const char **ret_error) {
        return instance_command(i, EVENT_CMD_CHAIN_RELOAD, ret_error);
}

int instance_cmd_stop(Instance *i, const char **ret_error) {
        return instance_command(i, EVENT_CMD_STOP, ret_error);
}

int instance_cmd_start(Instance *i, const char **ret_error) {
        return instance_command(i, EVENT_CMD_START, ret_error);
}

int instance_cmd_restart(Instance *i, const char **ret_error) {
        return instance_command(i, EVENT_CMD_RESTART, ret_error);
}

/* ---- notifications ---- */

static Proc *instance_proc(const Instance *i, pid_t pid) {
        if (i->cur && i->cur->pid == pid)
                return i->cur;
        if (i->nxt && i->nxt->pid == pid)
                return i->nxt;
        for (Proc *p = i->old; p; p = p->next)
                if (p->pid == pid)
                        return p;
        return NULL;
}

static void proc_on_ready(void *userdata) {
        Proc *p = userdata;
        Instance *i = p->inst;

        const char *phase = TAKE_PTR(p->phase);
        if (p->ready) {
                /* Its own reload (SIGUSR2, SIGHUP, touch-reload) is done: new workers accept. */
                if (p == i->cur && phase && streq(phase, "reloading"))
                        instance_tell(i, INSTANCE_CHAINED, NULL);
                return;
        }
        p->ready = true;
        p->timer = i->ops->timer_disarm(i->m, p->timer);
        double ms = (double) (instance_now(i) - p->started) / 1000;
        log_info("vassal '%s' (pid %d) ready in %.1f ms", i->name, p->pid, ms);
        history_event(manager_history(i->m), i, "ready", "pid %d in %.1f ms", p->pid, ms);
        if (p->recorded && (p == i->cur || p == i->nxt))
                proc_record(p, true); /* the newest serving one is what a new emperor adopts */
        if (p == i->cur || p == i->nxt)
                (void) instance_dispatch(i, EVENT_READY, &(EventData) { .proc = p });
}

/* gcc 12's -fanalyzer loses the string once it is stored in a Proc reached through the
 * instance's lists and calls it leaked; proc_free() frees it. */
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static void proc_on_status(void *userdata, const char *s, size_t n) {
        Proc *p = userdata;
        if (p->status && strlen(p->status) == n && memcmp(p->status, s, n) == 0)
                return; /* said every interval, mostly the same */
        char *v = strndup(s, n);
        if (!v)
                return;
        free(p->status);
        p->status = v;
        /* Its own reload (chain-reload) refused or failed: the old workers keep serving. */
        if (p == p->inst->cur && (strncmp(v, "reload failed", 13) == 0 ||
                                 strncmp(v, "reload refused", 14) == 0))
                instance_tell(p->inst, INSTANCE_FAILED, v);
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void proc_on_event(void *userdata, const char *kind, const char *detail, size_t n) {
        Proc *p = userdata;
        history_event(manager_history(p->m), p->inst, kind, "%.*s", (int) n, detail);
}

static void proc_on_stats(void *userdata, VassalStats *vs) {
        Proc *p = userdata;
        vstats_done(&p->stats);
        p->stats = *vs;
        p->stats_usec = p->inst->ops->now(p->m);
}

/* Only over stats it holds: a process that never sent any has nothing to apply them to. */
static void proc_on_measures(void *userdata, const VassalMeasures *m) {
        Proc *p = userdata;
        if (!p->stats_usec)
                return;
        vstats_set_measures(&p->stats, m);
        p->stats_usec = p->inst->ops->now(p->m);
}

static void proc_on_phase(void *userdata, const char *phase) {
        Proc *p = userdata;
        p->phase = phase;
}

static void on_watchdog_deadline(void *userdata) {
        Proc *p = userdata;
        Instance *i = p->inst;
        p->watchdog = i->ops->timer_disarm(i->m, p->watchdog);
        (void) instance_dispatch(i, EVENT_HUNG,
                                 &(EventData) { .proc = p, .lived = p->watchdog_usec,
                                                .message = "watchdog" });
}

/* WATCHDOG=1 pushes the deadline a period on; WATCHDOG_USEC= sets the period and starts it. */
static void proc_on_watchdog(void *userdata, uint64_t usec) {
        Proc *p = userdata;
        if (usec)
                p->watchdog_usec = usec;
        if (p->watchdog_usec)
                (void) p->inst->ops->timer_arm(p->m, p->watchdog_usec, on_watchdog_deadline, p,
                                               &p->watchdog);
}

static const NotifyHandler proc_notify = {
        .ready = proc_on_ready,
        .status = proc_on_status,
        .event = proc_on_event,
        .stats = proc_on_stats,
        .measures = proc_on_measures,
        .phase = proc_on_phase,
        .watchdog = proc_on_watchdog,
};

const char *instance_phase(const Instance *i) {
        return i->cur ? i->cur->phase : NULL;
}

bool instance_notify(Instance *i, pid_t pid, const char *msg, size_t len) {
        Proc *p = instance_proc(i, pid);
        if (!p)
                return false;
        notify_parse(msg, len, &proc_notify, p);
        return true;
}

void instance_hung(Instance *i, pid_t pid, uint64_t silent_usec) {
        Proc *p = instance_proc(i, pid);
        if (p)
                (void) instance_dispatch(i, EVENT_HUNG, &(EventData) { .proc = p,
                                                                       .lived = silent_usec });
}

/* ---- status ---- */

unsigned instance_restarts(const Instance *i) {
        return i->restarts;
}

double instance_uptime(const Instance *i) {
        return i->cur ? (double) (instance_now(i) - i->cur->started) / USEC_PER_SEC : NAN;
}

const VassalStats *instance_stats(const Instance *i) {
        return i->cur && i->cur->stats_usec ? &i->cur->stats : NULL;
}

double instance_stats_age(const Instance *i) {
        if (!instance_stats(i))
                return NAN;
        uint64_t now = instance_now(i);
        return (double) (now - MIN(now, i->cur->stats_usec)) / USEC_PER_SEC;
}

pid_t instance_pid(const Instance *i, uint64_t *ret_stats_usec) {
        if (ret_stats_usec)
                *ret_stats_usec = i->cur ? i->cur->stats_usec : 0;
        return i->cur ? i->cur->pid : 0;
}

const char *instance_path(const Instance *i) {
        return i->path;
}

const char *instance_last_exit(const Instance *i) {
        return i->last_exit;
}

const char *instance_warnings(const Instance *i) {
        return i->warnings;
}

void instance_watch_add(Instance *i, InstanceWatch *w) {
        w->next = i->watches;
        i->watches = w;
}

void instance_watch_remove(Instance *i, InstanceWatch *w) {
        for (InstanceWatch **pp = &i->watches; *pp; pp = &(*pp)->next)
                if (*pp == w) {
                        *pp = w->next;
                        return;
                }
}

unsigned instance_attempt(const Instance *i) {
        return i->attempt;
}

const char *instance_last_error(const Instance *i) {
        return i->last_error;
}

double instance_backoff_left(const Instance *i) {
        if (i->state != STATE_CRASH_LOOP)
                return NAN;
        uint64_t now = instance_now(i);
        return i->backoff_until > now ? (double) (i->backoff_until - now) / USEC_PER_SEC : 0;
}

const char *instance_socket(const Instance *i, size_t k) {
        return socks_address(&i->socks, k);
}

uid_t instance_run_uid(const Instance *i) {
        return i->drop ? i->run_uid : getuid();
}

const char *instance_status(const Instance *i) {
        return i->cur ? i->cur->status : NULL;
}
