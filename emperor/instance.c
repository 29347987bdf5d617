/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "history.h"
#include "instance.h"
#include "log.h"
#include "sockutil.h"
#include "spawn.h"
#include "store.h"
#include "users.h"
#include "vini.h"

#define USEC_PER_SEC 1000000ULL
/* Respawn pacing: at least a second between starts, doubling to a minute for a vassal that
 * keeps dying, reset once it has run this long (uWSGI's throttle, s6's floor). */
#define BACKOFF_MAX_SEC 60
#define STABLE_USEC (60 * USEC_PER_SEC)
/* What `vassal --check` may print before we stop listening. */
#define CHECK_OUTPUT_MAX 8192

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

/* A listening socket the emperor holds. Each process given it and the instance's current set
 * hold a reference; the last one closes it (and removes a unix socket file we made). */
typedef struct Sock {
        char *address;
        int fd;
        char *unix_path;
        unsigned refs;
} Sock;

typedef struct Proc Proc;
struct Proc {
        Instance *inst;
        Proc *next; /* in the instance's list of old processes being stopped */
        pid_t pid;
        PidOwner owner; /* in the manager's index while it runs */
        sd_event_source *child;
        sd_event_source *timer; /* readiness deadline, then the SIGKILL deadline */
        uint64_t started;       /* CLOCK_MONOTONIC µs */
        bool ready;
        bool stopping; /* we asked it to go */
        bool timed_out;
        char *cgroup;
        char *status; /* its last STATUS= */
        VassalStats stats;   /* its last X_STATS=, decoded */
        uint64_t stats_usec; /* when it came (CLOCK_MONOTONIC); 0: none yet */
        Sock **socks;
        size_t n_socks;
};

typedef struct Check {
        Manager *m;
        PidOwner owner;
        pid_t pid;
        int fd;
        sd_event_source *child;
        sd_event_source *io;
        char out[CHECK_OUTPUT_MAX];
        size_t len;
} Check;

struct Instance {
        Manager *m;
        Instance *next;
        char *name;
        char *path;
        ScanKey key;
        uid_t file_uid;
        gid_t file_gid;
        bool seen;

        InstanceState state;
        Proc *cur;  /* serving (or starting) */
        Proc *nxt;  /* blue-green: the new one, until it is ready */
        Proc *old;  /* being stopped */
        Check *check;
        sd_event_source *backoff;
        uint64_t backoff_until;

        Sock **socks; /* the current set, in the order the vassal adopts them */
        size_t n_socks;
        int64_t mercy;
        bool drop;
        uid_t run_uid;
        gid_t run_gid;

        unsigned crashes;
        unsigned restarts;
        char *last_error;
        char *last_exit;

        bool pending;  /* the ini changed (or reload asked) while busy: apply when settled */
        bool removed;  /* the ini is gone: free once stopped */
        bool user_stopped;
        bool restart_after_stop;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}

static void set_str(char **p, const char *v) {
        free(*p);
        *p = v ? strdup(v) : NULL;
}

/* Every transition goes through here, and is logged here, once. */
static void instance_set_state(Instance *i, InstanceState s) {
        if (i->state == s)
                return;
        log_full_errno(s == STATE_CRASH_LOOP || s == STATE_CONFIG_ERROR ? LOG_WARNING : LOG_NOTICE, 0,
                       "vassal '%s': %s -> %s", i->name, instance_state_to_string(i->state),
                       instance_state_to_string(s));
        history_transition(i->m->history, i, i->state, s,
                           s == STATE_CONFIG_ERROR ? i->last_error
                           : s == STATE_CRASH_LOOP ? i->last_exit : NULL);
        i->state = s;
        manager_update_status(i->m);
}

/* ---- sockets ---- */

static Sock *sock_ref(Sock *s) {
        s->refs++;
        return s;
}

static void sock_unref(Sock *s) {
        if (!s || --s->refs > 0)
                return;
        safe_close(s->fd);
        if (s->unix_path)
                (void) unlink(s->unix_path);
        free(s->unix_path);
        free(s->address);
        free(s);
}

static void socks_release(Sock **socks, size_t n) {
        for (size_t k = 0; k < n; k++)
                sock_unref(socks[k]);
        free(socks);
}

/* The socket set for a config: the ones we hold already are reused (same fd: no connection is
 * refused across a reload), the others bound now. Returns 0 or -errno with *ret_error. */
static int socks_for(Instance *i, const VassalIni *v, Sock ***ret, size_t *ret_n,
                     char **ret_error) {
        const char *addrs[64];
        size_t n = vini_sockets(v, addrs, ELEMENTSOF(addrs));
        Sock **set = calloc(n ? n : 1, sizeof(Sock *));
        int backlog = v->listen > 0 ? (int) v->listen : socket_somaxconn();

        if (!set)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                Sock *found = NULL;
                for (size_t j = 0; j < i->n_socks && !found; j++)
                        if (streq(i->socks[j]->address, addrs[k]))
                                found = i->socks[j];
                if (found) {
                        set[k] = sock_ref(found);
                        continue;
                }
                Sock *s = calloc(1, sizeof(Sock));
                if (!s || !(s->address = strdup(addrs[k]))) {
                        free(s);
                        socks_release(set, k);
                        return -ENOMEM;
                }
                s->fd = socket_listen(addrs[k], backlog, v->chmod_socket, v->chown_socket,
                                      &s->unix_path);
                if (s->fd < 0) {
                        int r = s->fd;
                        if (asprintf(ret_error, "cannot bind '%s': %s", addrs[k], strerror(-r)) < 0)
                                *ret_error = NULL;
                        free(s->address);
                        free(s);
                        socks_release(set, k);
                        return r;
                }
                s->refs = 1;
                set[k] = s;
        }
        *ret = set;
        *ret_n = n;
        return 0;
}

/* ---- processes ---- */

static void proc_free(Proc *p) {
        if (!p)
                return;
        manager_pid_remove(p->inst->m, &p->owner);
        sd_event_source_disable_unref(p->child);
        sd_event_source_disable_unref(p->timer);
        if (p->cgroup) {
                cgroup_kill(p->cgroup);
                /* Removed once empty: at once, or by the reaper while they die. */
                manager_forget_cgroup(p->inst->m, TAKE_PTR(p->cgroup));
        }
        socks_release(p->socks, p->n_socks);
        free(p->status);
        vstats_done(&p->stats);
        free(p);
}

/* Kills what is left of a process's tree: its cgroup, and its process group for anything that
 * could not join the group. */
static void proc_kill_tree(Proc *p) {
        if (p->cgroup)
                cgroup_kill(p->cgroup);
        if (p->pid > 0)
                (void) kill(-p->pid, SIGKILL);
}

static void proc_signal(Proc *p, int sig) {
        if (p->pid <= 0)
                return;
        /* Through the pidfd while we watch it: never a recycled pid. */
        if (!p->child || sd_event_source_send_child_signal(p->child, sig, NULL, 0) < 0)
                (void) kill(p->pid, sig);
}

static int on_proc_kill_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Proc *p = userdata;
        (void) s;
        (void) usec;
        log_warning("vassal '%s' (pid %d) still running after reload-mercy: killing it",
                    p->inst->name, p->pid);
        proc_signal(p, SIGKILL);
        proc_kill_tree(p);
        return 0;
}

/* Asks a process to stop gracefully, with SIGKILL for the whole tree after the mercy. */
static void proc_stop(Proc *p) {
        if (p->stopping)
                return;
        p->stopping = true;
        proc_signal(p, SIGTERM);
        p->timer = sd_event_source_disable_unref(p->timer);
        (void) sd_event_add_time_relative(p->inst->m->event, &p->timer, CLOCK_MONOTONIC,
                                          (uint64_t) (p->inst->mercy + 1) * USEC_PER_SEC, 0,
                                          on_proc_kill_deadline, p);
}

static void instance_settle(Instance *i);
static void instance_begin(Instance *i);
static void instance_spawn(Instance *i);
static void instance_finish_stop(Instance *i);

static bool instance_idle(const Instance *i) {
        return !i->cur && !i->nxt && !i->old;
}

/* No process of ours left, not even a check. */
static bool instance_quiet(const Instance *i) {
        return instance_idle(i) && !i->check;
}

static void describe_exit(const siginfo_t *si, char *buf, size_t size) {
        if (si->si_code == CLD_EXITED)
                snprintf(buf, size, "exited with status %d", si->si_status);
        else
                snprintf(buf, size, "killed by signal %s%s", sigabbrev_np(si->si_status) ?: "?",
                         si->si_code == CLD_DUMPED ? " (core dumped)" : "");
}

static void old_remove(Instance *i, Proc *p) {
        for (Proc **pp = &i->old; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        return;
                }
}

static int on_backoff(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;
        (void) s;
        (void) usec;
        i->backoff = sd_event_source_disable_unref(i->backoff);
        if (i->state == STATE_CRASH_LOOP)
                instance_spawn(i);
        return 0;
}

/* An unasked death of the serving process: config error, or a respawn paced by the backoff. */
static void instance_crashed(Instance *i, const siginfo_t *si, uint64_t lived) {
        i->restarts++;
        if (si->si_code == CLD_EXITED && si->si_status == EX_CONFIG) {
                if (!i->last_error)
                        set_str(&i->last_error, "exited with status 78: bad config or the app "
                                                "failed to import (see the vassal's log)");
                instance_set_state(i, STATE_CONFIG_ERROR);
                instance_settle(i);
                return;
        }
        if (lived >= STABLE_USEC)
                i->crashes = 0;
        uint64_t delay;
        if (i->crashes == 0)
                delay = lived >= USEC_PER_SEC ? 0 : USEC_PER_SEC - lived;
        else
                delay = (uint64_t) MIN(1u << MIN(i->crashes, 6u), (unsigned) BACKOFF_MAX_SEC) *
                        USEC_PER_SEC;
        i->crashes++;
        if (delay == 0) {
                instance_spawn(i);
                return;
        }
        i->backoff_until = now_usec() + delay;
        log_warning("vassal '%s' respawns in %.1f s", i->name, (double) delay / USEC_PER_SEC);
        instance_set_state(i, STATE_CRASH_LOOP);
        (void) sd_event_add_time_relative(i->m->event, &i->backoff, CLOCK_MONOTONIC, delay, 1000,
                                          on_backoff, i);
        instance_settle(i);
}

static int on_proc_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Proc *p = userdata;
        Instance *i = p->inst;
        char how[96];

        (void) s;
        describe_exit(si, how, sizeof(how));
        bool because = p->status && si->si_code == CLD_EXITED &&
                       (si->si_status == EX_CONFIG || si->si_status == 127);
        history_event(i->m->history, i, "exit", "pid %d %s%s%s", p->pid, how,
                      because ? ": " : "", because ? p->status : "");
        uint64_t lived = now_usec() - p->started;
        p->child = sd_event_source_disable_unref(p->child);
        p->timer = sd_event_source_disable_unref(p->timer);
        /* The master is gone: anything it left (workers, an app's grandchildren) goes too. */
        proc_kill_tree(p);
        manager_reap_orphans(i->m);

        if (p == i->cur && !p->stopping) {
                /* Its last STATUS= is the reason only when it exited for one: a config error
                 * (78) or a failed exec (127); otherwise it is the last progress report. */
                bool reason = si->si_code == CLD_EXITED &&
                              (si->si_status == EX_CONFIG || si->si_status == 127);
                log_warning("vassal '%s' (pid %d) %s%s%s", i->name, p->pid, how,
                            reason && p->status ? ": " : "", reason ? strempty(p->status) : "");
                set_str(&i->last_exit, how);
                if (p->timed_out)
                        set_str(&i->last_error, "did not report READY=1 in time");
                else if (reason)
                        set_str(&i->last_error, p->status);
                i->cur = NULL;
                proc_free(p);
                if (i->nxt) {
                        /* A reload was under way: its new vassal takes over when ready. */
                        i->cur = TAKE_PTR(i->nxt);
                        instance_set_state(i, STATE_STARTING);
                        return 0;
                }
                instance_crashed(i, si, lived);
                return 0;
        }

        if (p == i->nxt) {
                char *msg = NULL;
                bool reason = p->stopping || (si->si_code == CLD_EXITED &&
                                              (si->si_status == EX_CONFIG || si->si_status == 127));
                const char *why = reason ? p->status : NULL;
                if (asprintf(&msg, "reload failed: the new vassal %s%s%s", how, why ? ": " : "",
                             strempty(why)) < 0)
                        msg = NULL;
                log_warning("vassal '%s': %s; the old one keeps serving", i->name, strempty(msg));
                free(i->last_error);
                i->last_error = msg;
                i->nxt = NULL;
                proc_free(p);
                instance_set_state(i, STATE_RUNNING);
                instance_settle(i);
                return 0;
        }

        log_info("vassal '%s' (pid %d) %s", i->name, p->pid, how);
        if (p == i->cur)
                i->cur = NULL;
        else
                old_remove(i, p);
        proc_free(p);
        if (instance_quiet(i) && (i->state == STATE_STOPPING || i->removed))
                instance_finish_stop(i);
        return 0;
}

static int on_ready_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Proc *p = userdata;
        Instance *i = p->inst;
        (void) s;
        (void) usec;
        p->timer = sd_event_source_disable_unref(p->timer);
        log_warning("vassal '%s' (pid %d) not ready after %u s", i->name, p->pid,
                    i->m->ready_timeout);
        if (p == i->nxt) {
                /* The exit handler reports the failed reload; the old one keeps serving. */
                set_str(&p->status, "not ready in time");
                proc_stop(p);
                proc_signal(p, SIGKILL);
                return 0;
        }
        p->timed_out = true;
        proc_signal(p, SIGKILL);
        return 0;
}

static Proc *proc_spawn(Instance *i) {
        Manager *m = i->m;
        char stats[48], name_env[160];
        int fds[64];
        int r, exec_errno;

        Proc *p = calloc(1, sizeof(Proc));
        if (!p)
                return NULL;
        p->inst = i;
        p->socks = calloc(i->n_socks ? i->n_socks : 1, sizeof(Sock *));
        if (!p->socks) {
                free(p);
                return NULL;
        }
        for (size_t k = 0; k < i->n_socks && k < ELEMENTSOF(fds); k++) {
                p->socks[k] = sock_ref(i->socks[k]);
                fds[k] = i->socks[k]->fd;
        }
        p->n_socks = MIN(i->n_socks, ELEMENTSOF(fds));

        char seq[160];
        snprintf(seq, sizeof(seq), "%s.%u", i->name, ++m->spawn_seq);
        if (m->cgroup_root)
                p->cgroup = cgroup_create(m->cgroup_root, seq);

        char notify[4200];
        snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", m->notify_path);
        snprintf(stats, sizeof(stats), "EMPEROR_STATS_INTERVAL=%u", m->stats_interval);
        snprintf(name_env, sizeof(name_env), "EMPEROR_VASSAL=%s", i->name);
        char reports[4200];
        snprintf(reports, sizeof(reports), "EMPEROR_STATS_SOCKET=%s", m->reports_path);
        char *env[] = { notify, reports, stats, name_env, NULL };
        char *argv[] = { (char *) "vassal", i->path, NULL };
        SpawnOptions o = {
                .path = m->vassal_path,
                .argv = argv,
                .env_add = env,
                .fds = fds,
                .n_fds = p->n_socks,
                .stdout_fd = -1,
                .cgroup = p->cgroup,
                .drop = i->drop,
                .uid = i->run_uid,
                .gid = i->run_gid,
        };
        r = spawn_process(&o, &p->pid, &exec_errno);
        if (r < 0) {
                log_error_errno(r, "vassal '%s': fork failed: %m", i->name);
                proc_free(p);
                return NULL;
        }
        p->started = now_usec();
        r = sd_event_add_child(m->event, &p->child, p->pid, WEXITED, on_proc_exit, p);
        /* Known by pid, or its notifications would be ignored and the reaper take it for an
         * orphan. */
        p->owner = (PidOwner) { p->pid, i };
        if (r >= 0)
                r = manager_pid_add(m, &p->owner);
        if (r < 0) {
                /* Unwatched, nobody would reap it: stop it here, synchronously. */
                log_error_errno(r, "vassal '%s': cannot watch pid %d: %m", i->name, p->pid);
                (void) kill(p->pid, SIGKILL);
                (void) waitpid(p->pid, NULL, 0);
                proc_free(p);
                return NULL;
        }
        if (exec_errno != 0) {
                char *msg = NULL;
                if (asprintf(&msg, "cannot execute '%s': %s", m->vassal_path,
                             strerror(exec_errno)) >= 0) {
                        log_error("vassal '%s': %s", i->name, msg);
                        free(p->status);
                        p->status = msg;
                }
        }
        (void) sd_event_add_time_relative(m->event, &p->timer, CLOCK_MONOTONIC,
                                          (uint64_t) m->ready_timeout * USEC_PER_SEC, 0,
                                          on_ready_deadline, p);
        log_info("vassal '%s': spawned pid %d%s", i->name, p->pid, p->cgroup ? "" : " (no cgroup)");
        history_event(m->history, i, "spawn", "pid %d", p->pid);
        return p;
}

/* Starts the serving process with the current config and sockets (first start, respawn). */
static void instance_spawn(Instance *i) {
        i->backoff = sd_event_source_disable_unref(i->backoff);
        if (i->cur) {
                old_remove(i, i->cur);
                i->cur->next = i->old;
                i->old = i->cur;
                proc_stop(i->cur);
                i->cur = NULL;
        }
        instance_set_state(i, STATE_STARTING);
        i->cur = proc_spawn(i);
        if (!i->cur) {
                siginfo_t si = { .si_code = CLD_EXITED, .si_status = 1 };
                set_str(&i->last_error, "cannot spawn the vassal");
                instance_crashed(i, &si, 0);
        }
}

/* ---- `vassal --check` and applying a config ---- */

static void check_free(Check *c) {
        if (!c)
                return;
        manager_pid_remove(c->m, &c->owner);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->child);
        safe_close(c->fd);
        free(c);
}

static void check_drain(Check *c) {
        for (;;) {
                char buf[1024];
                ssize_t n = read(c->fd, buf, sizeof(buf));
                if (n <= 0)
                        return;
                size_t take = MIN((size_t) n, sizeof(c->out) - 1 - c->len);
                memcpy(c->out + c->len, buf, take);
                c->len += take;
                c->out[c->len] = 0;
        }
}

static int on_check_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Check *c = userdata;
        (void) fd;
        (void) revents;
        check_drain(c);
        if (revents & (EPOLLHUP | EPOLLERR))
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

/* Applies a config that passed the check: its sockets, its user, then the process. */
static void instance_apply(Instance *i) {
        VassalIni v;
        _cleanup_free_ char *error = NULL;
        Sock **set = NULL;
        size_t n = 0;
        int r;

        r = vini_load(&v, i->path, &error);
        if (r >= 0) {
                i->mercy = v.reload_mercy;
                i->drop = false;
                if (i->m->tyrant) {
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
        if (r >= 0)
                r = socks_for(i, &v, &set, &n, &error);
        vini_done(&v);

        bool reload = i->cur && i->cur->ready && i->state == STATE_RUNNING;
        if (r < 0) {
                set_str(&i->last_error, error ? error : strerror(-r));
                log_error("vassal '%s': %s", i->name, i->last_error);
                if (reload) {
                        log_warning("vassal '%s': keeping the running one", i->name);
                        history_event(i->m->history, i, "config-error",
                                      "%s (the running one keeps serving)", i->last_error);
                        instance_settle(i);
                } else if (r == -EADDRINUSE || r == -EADDRNOTAVAIL || r == -EACCES) {
                        siginfo_t si = { .si_code = CLD_EXITED, .si_status = 1 };
                        instance_crashed(i, &si, 0); /* may free up: retry with the backoff */
                } else {
                        instance_set_state(i, STATE_CONFIG_ERROR);
                        instance_settle(i);
                }
                return;
        }

        socks_release(i->socks, i->n_socks);
        i->socks = set;
        i->n_socks = n;
        if (!reload) {
                instance_spawn(i);
                return;
        }
        instance_set_state(i, STATE_RELOADING);
        i->nxt = proc_spawn(i);
        if (!i->nxt) {
                set_str(&i->last_error, "reload failed: cannot spawn the new vassal");
                instance_set_state(i, STATE_RUNNING);
        }
}

static int on_check_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Instance *i = userdata;
        Check *c = i->check;
        (void) s;

        check_drain(c);
        int status = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        char out[CHECK_OUTPUT_MAX];
        memcpy(out, c->out, c->len + 1);
        i->check = NULL;
        check_free(c);

        if (i->removed || i->state == STATE_STOPPING || i->m->stopping) {
                if (instance_quiet(i) && (i->state == STATE_STOPPING || i->removed))
                        instance_finish_stop(i);
                return 0;
        }
        if (i->pending) {
                /* The ini changed again while we checked: check the newest. */
                i->pending = false;
                instance_begin(i);
                return 0;
        }
        if (status != 0) {
                size_t l = strlen(out);
                while (l > 0 && (out[l - 1] == '\n' || out[l - 1] == ' '))
                        out[--l] = 0;
                if (l == 0)
                        snprintf(out, sizeof(out), "vassal --check exited with status %d", status);
                set_str(&i->last_error, out);
                bool serving = i->cur && i->cur->ready;
                log_error("vassal '%s': the ini does not pass the check%s:\n%s", i->name,
                          serving ? " (the running one keeps serving)" : "", out);
                if (!serving)
                        instance_set_state(i, STATE_CONFIG_ERROR);
                else
                        history_event(i->m->history, i, "config-error",
                                      "%s (the running one keeps serving)", out);
                return 0;
        }
        instance_apply(i);
        return 0;
}

/* Starts applying the ini as it is now: check it, then start or reload. While a check, a
 * start or a reload is under way, the change is remembered and applied once it settles. */
static void instance_begin(Instance *i) {
        if (i->check || i->nxt || (i->cur && !i->cur->ready)) {
                i->pending = true;
                return;
        }
        i->pending = false;

        Check *c = calloc(1, sizeof(Check));
        int pipefd[2], exec_errno, r;
        if (!c || pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
                free(c);
                log_oom();
                return;
        }
        c->m = i->m;
        c->fd = pipefd[0];
        char *argv[] = { (char *) "vassal", (char *) "--check", i->path, NULL };
        SpawnOptions o = {
                .path = i->m->vassal_path,
                .argv = argv,
                .stdout_fd = pipefd[1],
        };
        r = spawn_process(&o, &c->pid, &exec_errno);
        safe_close(pipefd[1]);
        if (r >= 0)
                r = sd_event_add_child(i->m->event, &c->child, c->pid, WEXITED, on_check_exit, i);
        c->owner = (PidOwner) { c->pid, i };
        if (r >= 0)
                r = manager_pid_add(i->m, &c->owner);
        if (r >= 0)
                r = sd_event_add_io(i->m->event, &c->io, c->fd, EPOLLIN, on_check_output, c);
        if (r < 0) {
                log_error_errno(r, "vassal '%s': cannot run the check: %m", i->name);
                if (c->pid > 0 && !c->child) {
                        (void) kill(c->pid, SIGKILL);
                        (void) waitpid(c->pid, NULL, 0);
                }
                check_free(c);
                return;
        }
        i->check = c;
}

/* Called whenever the instance reached a resting state: applies a change that came in the
 * meantime. */
static void instance_settle(Instance *i) {
        if (i->pending && !i->removed && !i->m->stopping && i->state != STATE_STOPPING)
                instance_begin(i);
}

/* ---- stopping ---- */

static void instance_stop_all(Instance *i) {
        i->backoff = sd_event_source_disable_unref(i->backoff);
        if (i->check) {
                sd_event_source_disable_unref(i->check->io);
                i->check->io = NULL;
                /* Let its child source reap it; on_check_exit ignores a stopping instance. */
                (void) kill(i->check->pid, SIGKILL);
        }
        if (i->nxt)
                proc_stop(i->nxt);
        if (i->cur)
                proc_stop(i->cur);
        for (Proc *p = i->old; p; p = p->next)
                proc_stop(p);
        /* Our copies of the sockets go now; the port closes when the vassal's do. */
        socks_release(i->socks, i->n_socks);
        i->socks = NULL;
        i->n_socks = 0;
}

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
        if (m->stopping) {
                manager_maybe_exit(m);
                return;
        }
        if (i->restart_after_stop) {
                i->restart_after_stop = false;
                i->crashes = 0;
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

/* ---- events from the scan ---- */

Instance *instance_new(Manager *m, const ScanEntry *e) {
        Instance *i = calloc(1, sizeof(Instance));
        if (!i)
                return NULL;
        i->m = m;
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

void instance_free(Instance *i) {
        if (!i)
                return;
        sd_event_source_disable_unref(i->backoff);
        check_free(i->check);
        proc_free(i->cur);
        proc_free(i->nxt);
        while (i->old) {
                Proc *p = i->old;
                i->old = p->next;
                proc_free(p);
        }
        socks_release(i->socks, i->n_socks);
        free(i->name);
        free(i->path);
        free(i->last_error);
        free(i->last_exit);
        free(i);
}

Instance **instance_next(Instance *i) {
        return &i->next;
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

void instance_start(Instance *i) {
        log_notice("vassal '%s': found %s", i->name, i->path);
        history_event(i->m->history, i, "found", "%s", i->path);
        instance_begin(i);
}

void instance_changed(Instance *i, const ScanEntry *e) {
        i->seen = true;
        if (scan_key_equal(&i->key, &e->key) && streq(i->path, e->path))
                return;
        i->key = e->key;
        i->file_uid = e->uid;
        i->file_gid = e->gid;
        set_str(&i->path, e->path);
        if (i->removed || i->state == STATE_STOPPING)
                return;
        log_notice("vassal '%s': %s changed", i->name, i->path);
        history_event(i->m->history, i, "changed", "%s", i->path);
        /* An ini change ends a user's stop, a config error and a backoff: try it now. */
        i->user_stopped = false;
        if (i->state == STATE_CRASH_LOOP)
                i->backoff = sd_event_source_disable_unref(i->backoff);
        if (i->state == STATE_CRASH_LOOP || i->state == STATE_CONFIG_ERROR ||
            i->state == STATE_STOPPED) {
                i->crashes = 0;
                instance_set_state(i, STATE_STARTING);
        }
        instance_begin(i);
}

void instance_removed(Instance *i) {
        if (i->removed)
                return;
        log_notice("vassal '%s': %s is gone, stopping", i->name, i->path);
        history_event(i->m->history, i, "removed", "%s", i->path);
        i->removed = true;
        instance_stop(i);
}

void instance_shutdown(Instance *i) {
        instance_stop(i);
}

/* ---- control commands ---- */

int instance_cmd_reload(Instance *i, const char **ret_error) {
        switch (i->state) {
        case STATE_RUNNING:
        case STATE_STARTING:
        case STATE_RELOADING:
                instance_begin(i);
                return 0;
        default:
                *ret_error = "not running: use start";
                return -ESRCH;
        }
}

int instance_cmd_chain_reload(Instance *i, const char **ret_error) {
        if (i->state != STATE_RUNNING || !i->cur || !i->cur->ready) {
                *ret_error = "not running";
                return -ESRCH;
        }
        /* In place, by the vassal itself: its workers are replaced one at a time. */
        proc_signal(i->cur, SIGUSR2);
        return 0;
}

int instance_cmd_stop(Instance *i, const char **ret_error) {
        if (i->state == STATE_STOPPED || i->state == STATE_STOPPING) {
                *ret_error = "already stopped";
                return -EALREADY;
        }
        i->user_stopped = true;
        i->restart_after_stop = false;
        instance_stop(i);
        return 0;
}

int instance_cmd_start(Instance *i, const char **ret_error) {
        switch (i->state) {
        case STATE_STOPPED:
        case STATE_CRASH_LOOP:
        case STATE_CONFIG_ERROR:
                i->user_stopped = false;
                i->crashes = 0;
                i->backoff = sd_event_source_disable_unref(i->backoff);
                instance_set_state(i, STATE_STARTING);
                instance_begin(i);
                return 0;
        case STATE_STOPPING:
                i->restart_after_stop = true;
                return 0;
        default:
                *ret_error = "already running";
                return -EALREADY;
        }
}

int instance_cmd_restart(Instance *i, const char **ret_error) {
        (void) ret_error;
        i->user_stopped = false;
        if (i->state == STATE_STOPPED || i->state == STATE_CRASH_LOOP ||
            i->state == STATE_CONFIG_ERROR)
                return instance_cmd_start(i, ret_error);
        i->restart_after_stop = true;
        instance_stop(i);
        return 0;
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

static void proc_ready(Proc *p) {
        Instance *i = p->inst;

        if (p->ready)
                return;
        p->ready = true;
        p->timer = sd_event_source_disable_unref(p->timer);
        log_info("vassal '%s' (pid %d) ready in %.1f ms", i->name, p->pid,
                 (double) (now_usec() - p->started) / 1000);
        history_event(i->m->history, i, "ready", "pid %d in %.1f ms", p->pid,
                      (double) (now_usec() - p->started) / 1000);
        if (p == i->nxt) {
                /* Blue-green: the new one serves; the old one finishes its requests. */
                Proc *old = i->cur;
                i->cur = TAKE_PTR(i->nxt);
                if (old) {
                        old->next = i->old;
                        i->old = old;
                        proc_stop(old);
                }
                set_str(&i->last_error, NULL);
                log_notice("vassal '%s': reloaded (pid %d)", i->name, p->pid);
                instance_set_state(i, STATE_RUNNING);
                instance_settle(i);
        } else if (p == i->cur && i->state == STATE_STARTING) {
                instance_set_state(i, STATE_RUNNING);
                instance_settle(i);
        }
}

/* gcc 12's -fanalyzer loses the string once it is stored in a Proc reached through the
 * instance's lists and calls it leaked; proc_free() frees it. */
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static void proc_set_status(Proc *p, const char *s, size_t n) {
        char *v = strndup(s, n);
        if (!v)
                return;
        free(p->status);
        p->status = v;
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* X_EVENT=KIND DETAIL from a vassal (vassal/master.c): its workers' recycles, harakiris and
 * deaths, and its log rotations, into the store. Other kinds, and kinds that are not words,
 * are dropped: the store's kinds are an interface (store.h). */
static void proc_event(Instance *i, const char *s, size_t n) {
        static const char *const kinds[] = { "recycle", "harakiri", "worker-exit", "log-rotate" };
        const char *sp = memchr(s, ' ', n);
        size_t klen = sp ? (size_t) (sp - s) : n;

        for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
                if (klen == strlen(kinds[k]) && memcmp(s, kinds[k], klen) == 0) {
                        const char *detail = sp ? sp + 1 : "";
                        int dlen = (int) MIN(sp ? n - klen - 1 : 0, (size_t) 512);
                        history_event(i->m->history, i, kinds[k], "%.*s", dlen, detail);
                        return;
                }
}

bool instance_notify(Instance *i, pid_t pid, const char *msg, size_t len) {
        Proc *p = instance_proc(i, pid);
        if (!p)
                return false;

        /* Newline-separated KEY=VALUE assignments (sd_notify(3)). */
        const char *end = msg + len;
        for (const char *line = msg; line < end;) {
                const char *nl = memchr(line, '\n', end - line);
                size_t n = nl ? (size_t) (nl - line) : (size_t) (end - line);
                if (n == 7 && memcmp(line, "READY=1", 7) == 0)
                        proc_ready(p);
                else if (n > 7 && memcmp(line, "STATUS=", 7) == 0)
                        proc_set_status(p, line + 7, n - 7);
                else if (n > 8 && memcmp(line, "X_EVENT=", 8) == 0)
                        proc_event(i, line + 8, n - 8);
                else if (n > 8 && memcmp(line, "X_STATS=", 8) == 0) {
                        /* Decoded once here; the JSON is not kept. */
                        VassalStats vs;
                        if (vstats_parse(line + 8, n - 8, &vs) == 0) {
                                vstats_done(&p->stats);
                                p->stats = vs;
                                p->stats_usec = now_usec();
                        } else
                                vstats_done(&vs);
                }
                line += n + 1;
        }
        return true;
}

/* ---- status ---- */

unsigned instance_restarts(const Instance *i) {
        return i->restarts;
}

double instance_uptime(const Instance *i) {
        return i->cur ? (double) (now_usec() - i->cur->started) / USEC_PER_SEC : NAN;
}

const VassalStats *instance_stats(const Instance *i) {
        return i->cur && i->cur->stats_usec ? &i->cur->stats : NULL;
}

pid_t instance_pid(const Instance *i, uint64_t *ret_stats_usec) {
        if (ret_stats_usec)
                *ret_stats_usec = i->cur ? i->cur->stats_usec : 0;
        return i->cur ? i->cur->pid : 0;
}

const char *instance_path(const Instance *i) {
        return i->path;
}

cJSON *instance_to_json(const Instance *i, bool detail) {
        cJSON *o = cJSON_CreateObject();
        const Proc *p = i->cur;
        uint64_t now = now_usec();

        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "name", i->name);
        cJSON_AddStringToObject(o, "state", instance_state_to_string(i->state));
        if (p) {
                cJSON_AddNumberToObject(o, "pid", p->pid);
                cJSON_AddNumberToObject(o, "uptime", (double) (now - p->started) / USEC_PER_SEC);
        } else {
                cJSON_AddNullToObject(o, "pid");
                cJSON_AddNullToObject(o, "uptime");
        }
        cJSON_AddNumberToObject(o, "restarts", i->restarts);

        const VassalStats *vs = instance_stats(i);
        if (vs) {
                cJSON *wo = cJSON_AddObjectToObject(o, "workers");
                cJSON_AddNumberToObject(wo, "busy", vs->busy);
                cJSON_AddNumberToObject(wo, "total", vs->total);
                cJSON_AddNumberToObject(o, "requests", (double) vs->requests);
        } else {
                cJSON_AddNullToObject(o, "workers");
                cJSON_AddNullToObject(o, "requests");
        }
        /* The live numbers of the vassal's last report, as the store reads them (sample.c);
         * null when there is no report or the vassal does not measure one (NaN). stats_age
         * is how old the report is: `emperorctl top` takes rates over the vassals' report
         * times, not over its own polls, which a report interval longer than the poll
         * would turn into alternating zeros and doubles. */
        StoreSample sample = {};
        bool live = vs;
        if (vs)
                store_sample_from_vstats(vs, &sample);
        const struct {
                const char *key;
                double value;
        } numbers[] = {
                { "errors", (double) sample.errors },
                { "avg_rt_ms", sample.avg_rt_ms },
                { "p99_rt_ms", sample.p99_rt_ms },
                { "rss", (double) sample.rss },
                { "cpu", sample.cpu },
                { "listen_queue", (double) sample.listen_queue },
                { "stats_age", live ? (double) (now - MIN(now, p->stats_usec)) / USEC_PER_SEC
                                    : NAN },
        };
        for (size_t k = 0; k < ELEMENTSOF(numbers); k++)
                if (live && isfinite(numbers[k].value))
                        cJSON_AddNumberToObject(o, numbers[k].key, numbers[k].value);
                else
                        cJSON_AddNullToObject(o, numbers[k].key);
        if (i->last_exit)
                cJSON_AddStringToObject(o, "last_exit", i->last_exit);
        else
                cJSON_AddNullToObject(o, "last_exit");
        if (i->last_error)
                cJSON_AddStringToObject(o, "last_error", i->last_error);
        else
                cJSON_AddNullToObject(o, "last_error");
        if (i->state == STATE_CRASH_LOOP)
                cJSON_AddNumberToObject(o, "backoff",
                                        i->backoff_until > now
                                                ? (double) (i->backoff_until - now) / USEC_PER_SEC
                                                : 0);
        if (!detail)
                return o;

        cJSON_AddStringToObject(o, "ini", i->path);
        if (vs && vs->log_path)
                cJSON_AddStringToObject(o, "log", vs->log_path);
        cJSON *socks = cJSON_AddArrayToObject(o, "sockets");
        for (size_t k = 0; k < i->n_socks; k++)
                cJSON_AddItemToArray(socks, cJSON_CreateString(i->socks[k]->address));
        cJSON *pids = cJSON_AddArrayToObject(o, "worker_pids");
        for (unsigned k = 0; vs && k < vs->total; k++)
                cJSON_AddItemToArray(pids, cJSON_CreateNumber(vs->worker_pids[k]));
        cJSON_AddNumberToObject(o, "uid", i->drop ? i->run_uid : getuid());
        if (p && p->status)
                cJSON_AddStringToObject(o, "status", p->status);
        return o;
}
