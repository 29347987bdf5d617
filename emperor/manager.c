/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cgroup.h"
#include "control.h"
#include "history.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "reports.h"
#include "runstate.h"
#include "socks.h"
#include "child.h"
#include "ops.h"
#include "scan.h"

#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC 1000000ULL
/* inotify says a file changed; the scan after this pause sees it whole (an editor's write and
 * rename, a `cp` in progress). Short: it is most of the time from a new ini to its first 200. */
#define DEBOUNCE_USEC (5 * USEC_PER_MSEC)
/* The backstop for lost events (IN_Q_OVERFLOW, filesystems without inotify). */
#define RESCAN_USEC (5 * USEC_PER_SEC)

struct Manager {
        sd_event *event;
        const ManagerOps *ops;
        /* The conf dir as named (absolute, symlinks kept), and where it led at the last scan:
         * a deploy tool may swap a symlink (ln -sfn new tmp && mv -T tmp CONF_DIR), so each
         * scan resolves it again. */
        char *conf_path;
        char *conf_link_name; /* its last component, in conf_parent */
        char *conf_parent;
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

        Instance *instances; /* linked through instance_link() */
        size_t n_instances;

        sd_event_source *inotify;
        sd_event_source *link_watch; /* the conf dir's parent, for a swap of the name */
        sd_event_source *debounce;
        sd_event_source *rescan;
        sd_event_source *rewatch;
        sd_event_source *reap;
        int notify_fd;
        sd_event_source *notify_src;
        Control *control;
        History *history; /* the stats store: samples and events */

        void *pids; /* tsearch(3) tree of PidOwner: every process we watch, by pid */
        void *names; /* tsearch(3) tree of NameOwner: the instances, by name */
        bool names_incomplete; /* one could not be indexed: manager_find() also walks */
        char **dead_cgroups; /* vassal cgroups still being emptied, removed by the reaper */
        size_t n_dead_cgroups;

        ScanIgnored *ignored; /* what the last scan did not take, said once each */
        size_t n_ignored;

        bool stopping;
        bool detaching; /* leaving the fleet running for the next emperor (runstate.h) */
        bool upgrade;   /* ... which is this binary again, re-executed */
};

static int on_inotify(sd_event_source *s, const struct inotify_event *ev, void *userdata);
static void manager_sweep_cgroups(Manager *m);

/* The conf dir's name made absolute without resolving symlinks ("conf/" -> "/cwd/conf"), its
 * parent directory and its last component. */
static int conf_path_split(const char *dir, char **ret_path, char **ret_parent, char **ret_name) {
        char *path = NULL, *cwd = NULL;

        if (dir[0] != '/') {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return -errno;
        }
        if (asprintf(&path, "%s%s%s", strempty(cwd), cwd ? "/" : "", dir) < 0) {
                free(cwd);
                return -ENOMEM;
        }
        free(cwd);
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/')
                path[--n] = 0;
        const char *slash = strrchr(path, '/');
        char *parent = slash == path ? strdup("/") : strndup(path, slash - path);
        char *name = strdup(slash + 1);
        if (!parent || !name) {
                free(parent);
                free(name);
                free(path);
                return -ENOMEM;
        }
        *ret_path = path;
        *ret_parent = parent;
        *ret_name = name;
        return 0;
}

int manager_new(const ManagerOptions *o, Manager **ret) {
        Manager *m = calloc(1, sizeof(Manager));
        int r;

        if (!m)
                return -ENOMEM;
        m->notify_fd = -1;
        m->ops = o->ops ?: &ops_system;
        m->tyrant = o->tyrant;
        m->uid = getuid();
        m->stats_interval = o->stats_interval;
        m->ready_timeout = o->ready_timeout;
        m->conf_dir = realpath(o->conf_dir, NULL);
        if (!m->conf_dir) {
                r = -errno;
                manager_free(m);
                return log_error_errno(r, "conf dir '%s': %m", o->conf_dir);
        }
        m->run_dir = strdup(o->run_dir);
        m->state_dir = strdup(o->state_dir);
        m->vassal_path = strdup(o->vassal_path);
        if (!m->run_dir || !m->state_dir || !m->vassal_path ||
            asprintf(&m->notify_path, "%s/notify.sock", o->run_dir) < 0 ||
            asprintf(&m->reports_path, "%s/stats.sock", o->run_dir) < 0) {
                m->reports_path = NULL;
                manager_free(m);
                return -ENOMEM;
        }
        r = conf_path_split(o->conf_dir, &m->conf_path, &m->conf_parent, &m->conf_link_name);
        if (r < 0) {
                manager_free(m);
                return log_error_errno(r, "conf dir '%s': %m", o->conf_dir);
        }
        r = sd_event_default(&m->event);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        r = history_new(m, o, &m->history);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

static void pid_forget(void *o);

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        while (m->instances) {
                Instance *i = m->instances;
                manager_remove(m, i);
                instance_free(i);
        }
        control_free(m->control);
        m->reports = reports_free(m->reports);
        m->history = history_free(m->history);
        sd_event_source_disable_unref(m->inotify);
        sd_event_source_disable_unref(m->link_watch);
        sd_event_source_disable_unref(m->debounce);
        sd_event_source_disable_unref(m->rescan);
        sd_event_source_disable_unref(m->rewatch);
        sd_event_source_disable_unref(m->reap);
        sd_event_source_disable_unref(m->notify_src);
        tdestroy(m->pids, pid_forget);
        tdestroy(m->names, free);
        safe_close(m->notify_fd);
        if (m->notify_path)
                (void) unlink(m->notify_path);
        sd_event_unref(m->event);
        free(m->conf_dir);
        free(m->conf_path);
        free(m->conf_parent);
        free(m->conf_link_name);
        free(m->run_dir);
        free(m->state_dir);
        free(m->vassal_path);
        free(m->notify_path);
        free(m->reports_path);
        scan_ignored_free(m->ignored, m->n_ignored);
        /* After a clean stop the groups empty within moments (their processes were killed). */
        for (int k = 0; k < 50 && m->n_dead_cgroups > 0 && !m->detaching; k++) {
                manager_sweep_cgroups(m);
                if (m->n_dead_cgroups > 0)
                        usleep(20000);
        }
        for (size_t k = 0; k < m->n_dead_cgroups; k++)
                free(m->dead_cgroups[k]);
        free(m->dead_cgroups);
        if (m->cgroup_root && !m->detaching)
                (void) cgroup_remove(m->cgroup_root);
        free(m->cgroup_root);
        free(m);
        return NULL;
}

/* ---- the fleet ---- */

void manager_collect_reports(Manager *m) {
        if (m->reports)
                reports_collect(m->reports);
}

Instance *manager_first(Manager *m) {
        return m->instances;
}

Instance *manager_next(Manager *m, Instance *i) {
        (void) m;
        return *instance_link(i);
}

size_t manager_size(const Manager *m) {
        return m->n_instances;
}

/* The fleet by name: every scan looks each ini's vassal up (every 5 s at least), which a walk of
 * the list made a million string compares for a thousand vassals. */
typedef struct NameOwner {
        const char *name; /* the instance's own */
        Instance *inst;
} NameOwner;

static int name_cmp(const void *a, const void *b) {
        return strcmp(((const NameOwner *) a)->name, ((const NameOwner *) b)->name);
}

Instance *manager_find(Manager *m, const char *name) {
        NameOwner key = { .name = name };
        NameOwner **node = tfind(&key, &m->names, name_cmp);
        if (node)
                return (*node)->inst;
        if (m->names_incomplete)
                for (Instance *i = m->instances; i; i = *instance_link(i))
                        if (streq(instance_name(i), name))
                                return i;
        return NULL;
}

/* gcc 12's -fanalyzer does not follow a node into the tsearch(3) tree and calls it leaked;
 * manager_remove() and manager_free() free it. */
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
void manager_add(Manager *m, Instance *i) {
        NameOwner *o = malloc(sizeof(NameOwner));
        NameOwner **node = o ? tsearch((*o = (NameOwner) { instance_name(i), i }, o), &m->names,
                                       name_cmp)
                             : NULL;
        if (!node || *node != o) {
                /* Out of memory (or a name twice, which the scan never makes): found by the
                 * walk below instead. */
                free(o);
                m->names_incomplete = true;
        }
        *instance_link(i) = m->instances;
        m->instances = i;
        m->n_instances++;
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void manager_remove(Manager *m, Instance *i) {
        NameOwner key = { .name = instance_name(i) };
        NameOwner **node = tfind(&key, &m->names, name_cmp);
        if (node && (*node)->inst == i) {
                NameOwner *o = *node;
                (void) tdelete(&key, &m->names, name_cmp);
                free(o);
        }
        for (Instance **pp = &m->instances; *pp; pp = instance_link(*pp))
                if (*pp == i) {
                        *pp = *instance_link(i);
                        *instance_link(i) = NULL;
                        m->n_instances--;
                        return;
                }
}

void manager_update_status(Manager *m) {
        unsigned counts[_STATE_MAX] = {};
        for (Instance *i = m->instances; i; i = *instance_link(i))
                counts[instance_state(i)]++;
        (void) sd_notifyf(0,
                          "STATUS=%zu vassals: %u running, %u starting, %u reloading, "
                          "%u crash-loop, %u config-error, %u stopped",
                          m->n_instances, counts[STATE_RUNNING], counts[STATE_STARTING],
                          counts[STATE_RELOADING], counts[STATE_CRASH_LOOP],
                          counts[STATE_CONFIG_ERROR], counts[STATE_STOPPED]);
}

static int manager_watch(Manager *m);
static void manager_watch_link(Manager *m);

/* Where the conf dir's name leads now. A swapped symlink leads elsewhere: the new directory is
 * watched and scanned; its inis have other paths, so the scan reloads (or starts, or stops)
 * the vassals as their inis differ. */
static void manager_resolve_conf(Manager *m) {
        _cleanup_free_ char *now = realpath(m->conf_path, NULL);

        if (!now || streq(now, m->conf_dir))
                return; /* gone for now: the scan says so; or unchanged */
        log_notice("conf dir '%s' now leads to '%s' (was '%s')", m->conf_path, now, m->conf_dir);
        free(m->conf_dir);
        m->conf_dir = TAKE_PTR(now);
        (void) manager_watch(m);
        /* The name's parent may lead elsewhere too (a swap further up). */
        manager_watch_link(m);
}

static const ScanKey *manager_known_key(void *userdata, const char *name) {
        Instance *i = manager_find(userdata, name);
        return i ? instance_key(i) : NULL;
}

void manager_rescan(Manager *m) {
        ScanEntry *entries;
        size_t n;
        int r;

        if (m->stopping)
                return;
        manager_resolve_conf(m);
        ScanIgnored *ignored;
        size_t n_ignored;
        r = scan_dir_full(m->conf_dir, manager_known_key, m, &entries, &n, &ignored, &n_ignored);
        if (r < 0) {
                log_warning_errno(r, "Cannot read '%s': %m, keeping the fleet as it is",
                                  m->conf_dir);
                return;
        }
        /* Each file that is not taken is said once, not every scan. */
        for (size_t k = 0; k < n_ignored; k++) {
                bool said = false;
                for (size_t j = 0; j < m->n_ignored && !said; j++)
                        said = streq(m->ignored[j].file, ignored[k].file) &&
                               streq(m->ignored[j].reason, ignored[k].reason);
                if (!said)
                        log_warning("'%s/%s' ignored: %s", m->conf_dir, ignored[k].file,
                                    ignored[k].reason);
        }
        scan_ignored_free(m->ignored, m->n_ignored);
        m->ignored = ignored;
        m->n_ignored = n_ignored;
        for (Instance *i = m->instances; i; i = *instance_link(i))
                (void) instance_seen(i, true);
        for (size_t k = 0; k < n; k++) {
                Instance *i = manager_find(m, entries[k].name);
                if (i) {
                        instance_changed(i, &entries[k]);
                        continue;
                }
                i = instance_new(m, &entries[k]);
                if (!i) {
                        log_oom();
                        continue;
                }
                manager_add(m, i);
                instance_start(i);
        }
        scan_free(entries, n);
        /* Whatever the scan did not see is gone (its removal may free it: walk carefully). */
        for (Instance *i = m->instances, *next; i; i = next) {
                next = *instance_link(i);
                if (!instance_seen(i, false))
                        instance_removed(i);
        }
        manager_update_status(m);
}

/* ---- watching the conf dir ---- */

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        manager_rescan(userdata);
        return 0;
}

static void manager_schedule_scan(Manager *m) {
        if (m->debounce) {
                (void) sd_event_source_set_time_relative(m->debounce, DEBOUNCE_USEC);
                (void) sd_event_source_set_enabled(m->debounce, SD_EVENT_ONESHOT);
                return;
        }
        /* Accuracy 1 µs: 0 would mean sd-event's default of 250 ms, and the scan would wait
         * for the next 250 ms tick of its grid. */
        (void) sd_event_add_time_relative(m->event, &m->debounce, CLOCK_MONOTONIC, DEBOUNCE_USEC,
                                          1, on_debounce, m);
}

static int on_rewatch(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        (void) s;
        (void) usec;
        m->rewatch = sd_event_source_disable_unref(m->rewatch);
        if (manager_watch(m) < 0)
                (void) sd_event_add_time_relative(m->event, &m->rewatch, CLOCK_MONOTONIC,
                                                  USEC_PER_SEC, 0, on_rewatch, m);
        else
                manager_rescan(m); /* anything made while we were not watching */
        return 0;
}

static int on_inotify(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        Manager *m = userdata;
        (void) s;

        if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
                /* The directory itself was replaced (rm -rf && mkdir): the watch is dead and
                 * says nothing about the new one. Watch again from a timer. */
                if (!m->rewatch) {
                        log_warning("conf dir '%s' was removed or replaced, watching it again",
                                    m->conf_dir);
                        (void) sd_event_add_time_relative(m->event, &m->rewatch, CLOCK_MONOTONIC,
                                                          100 * USEC_PER_MSEC, 1, on_rewatch, m);
                }
                return 0;
        }
        /* Any event (even for a dot-file: a "..data" symlink swap) means: look again. */
        manager_schedule_scan(m);
        return 0;
}

static int manager_watch(Manager *m) {
        m->inotify = sd_event_source_disable_unref(m->inotify);
        int r = sd_event_add_inotify(m->event, &m->inotify, m->conf_dir,
                                     IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                             IN_CREATE | IN_ATTRIB | IN_DELETE_SELF |
                                             IN_MOVE_SELF | IN_ONLYDIR,
                                     on_inotify, m);
        if (r < 0)
                return log_warning_errno(r, "Cannot watch '%s': %m", m->conf_dir);
        return 0;
}

/* Something happened in the conf dir's parent: only its name matters (a swapped symlink,
 * a directory renamed in), and then the scan resolves it again. */
static int on_link_event(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        Manager *m = userdata;
        (void) s;

        if ((ev->mask & IN_Q_OVERFLOW) || (ev->len > 0 && streq(ev->name, m->conf_link_name)))
                manager_schedule_scan(m);
        return 0;
}

/* Watches the conf dir's name in its parent: the directory that holds the entry, so a path
 * to it through a symlink is followed (IN_DONT_FOLLOW would watch that symlink's own inode,
 * which a swap of the entry never touches). A swap further up (the parent itself a swapped
 * link) is seen by SIGHUP and the periodic scan, which resolve the whole path again. */
static void manager_watch_link(Manager *m) {
        m->link_watch = sd_event_source_disable_unref(m->link_watch);
        int r = sd_event_add_inotify(m->event, &m->link_watch, m->conf_parent,
                                     IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                             IN_ONLYDIR,
                                     on_link_event, m);
        if (r < 0)
                log_warning_errno(r, "Cannot watch '%s' for a swap of '%s': %m, ignoring",
                                  m->conf_parent, m->conf_link_name);
}

static int on_rescan(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        manager_rescan(m);
        (void) sd_event_source_set_time(s, usec + RESCAN_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* ---- the notify socket ---- */

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        (void) s;
        (void) revents;

        for (;;) {
                char buf[65536];
                union {
                        struct cmsghdr h;
                        char data[CMSG_SPACE(sizeof(struct ucred))];
                } control;
                struct iovec iov = { buf, sizeof(buf) - 1 };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof(control),
                };
                ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                log_warning_errno(errno, "notify socket: %m");
                        return 0;
                }
                if ((size_t) n >= sizeof(buf) || (mh.msg_flags & MSG_TRUNC)) {
                        log_warning("notify socket: dropped an oversized message");
                        continue;
                }
                struct ucred *cred = NULL;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                                cred = (struct ucred *) CMSG_DATA(c);
                if (!cred)
                        continue;
                Instance *i = manager_pid_owner(m, cred->pid);
                bool matched = i && instance_notify(i, cred->pid, buf, n);
                if (!matched)
                        log_debug("notify message from unknown pid %d ignored", cred->pid);
        }
}

static int manager_notify_socket(Manager *m) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int one = 1;

        if (strlen(m->notify_path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "'%s': path too long", m->notify_path);
        strcpy(sa.sun_path, m->notify_path);
        m->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (m->notify_fd < 0)
                return log_error_errno(errno, "notify socket: %m");
        (void) unlink(m->notify_path);
        if (bind(m->notify_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Cannot bind '%s': %m", m->notify_path);
        /* Vassals running as other users must be able to send. */
        (void) chmod(m->notify_path, 0666);
        if (setsockopt(m->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return log_error_errno(errno, "SO_PASSCRED: %m");
        int size = 4 * 1024 * 1024;
        (void) setsockopt(m->notify_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
        return sd_event_add_io(m->event, &m->notify_src, m->notify_fd, EPOLLIN, on_notify, m);
}

/* ---- the processes we watch ---- */

/* The tree's nodes point into the Procs and Checks that own them. */
static void pid_forget(void *o) {
        (void) o;
}

static int pid_cmp(const void *a, const void *b) {
        pid_t x = ((const PidOwner *) a)->pid, y = ((const PidOwner *) b)->pid;
        return (x > y) - (x < y);
}

int manager_pid_add(Manager *m, PidOwner *o) {
        PidOwner **node = tsearch(o, &m->pids, pid_cmp);
        if (!node)
                return -ENOMEM;
        *node = o; /* a pid someone forgot to remove has been reused: ours now */
        return 0;
}

void manager_pid_remove(Manager *m, PidOwner *o) {
        PidOwner **node = tfind(o, &m->pids, pid_cmp);
        if (node && *node == o)
                (void) tdelete(o, &m->pids, pid_cmp);
}

Instance *manager_pid_owner(Manager *m, pid_t pid) {
        PidOwner key = { .pid = pid }, **node = tfind(&key, &m->pids, pid_cmp);
        return node ? (*node)->inst : NULL;
}

/* ---- orphans ---- */

/* We are a subreaper: a vassal's grandchild whose parent died is ours to reap. Only pids we do
 * not watch are reaped here (sd-event reaps the others). Our children are listed by the kernel
 * in /proc/thread-self/children (we have one thread), so this costs a read and a lookup per
 * child, not a walk of /proc; waitpid(-1) would steal sd-event's children. */
void manager_reap_orphans(Manager *m) {
        char buf[65536], path[64], stat[512];
        int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return;
        n = read(fd, buf, sizeof(buf) - 1);
        safe_close(fd);
        if (n <= 0)
                return;
        buf[n] = 0;
        for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n")) {
                pid_t pid = atoi(tok);
                PidOwner key = { .pid = pid };
                /* Watched (a vassal, a check, emperor-web): not an orphan. */
                if (pid <= 0 || tfind(&key, &m->pids, pid_cmp))
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/stat", pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                ssize_t k = read(fd, stat, sizeof(stat) - 1);
                safe_close(fd);
                if (k <= 0)
                        continue;
                stat[k] = 0;
                /* pid (comm) state ...: comm may hold spaces and parentheses. */
                char *rp = strrchr(stat, ')');
                if (rp && rp[1] == ' ' && rp[2] != 'Z')
                        (void) kill(pid, SIGKILL); /* an orphan of a vassal that is gone */
                (void) waitpid(pid, NULL, WNOHANG);
        }
}

void manager_forget_cgroup(Manager *m, char *path) {
        if (cgroup_remove(path) >= 0 || errno == ENOENT) {
                free(path);
                return;
        }
        char **l = reallocarray(m->dead_cgroups, m->n_dead_cgroups + 1, sizeof(char *));
        if (!l) {
                free(path);
                return;
        }
        m->dead_cgroups = l;
        m->dead_cgroups[m->n_dead_cgroups++] = path;
}

/* Removes the cgroups whose processes are all gone now. */
static void manager_sweep_cgroups(Manager *m) {
        size_t k = 0;
        for (size_t j = 0; j < m->n_dead_cgroups; j++) {
                int r = cgroup_remove(m->dead_cgroups[j]);
                if (r >= 0 || r == -ENOENT)
                        free(m->dead_cgroups[j]);
                else
                        m->dead_cgroups[k++] = m->dead_cgroups[j];
        }
        m->n_dead_cgroups = k;
}

static int on_reap(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_reap_orphans(userdata);
        manager_sweep_cgroups(userdata);
        (void) sd_event_source_set_time(s, usec + 2 * USEC_PER_SEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* ---- start and stop ---- */

/* ---- the fleet a previous emperor left running ---- */

static bool newest_serving(const RunState *all, size_t n, size_t k) {
        if (!all[k].serving)
                return false;
        for (size_t j = 0; j < n; j++)
                if (j != k && all[j].serving && streq(all[j].name, all[k].name) &&
                    all[j].start_ticks > all[k].start_ticks)
                        return false;
        return true;
}

/* Takes back the vassals RUN_DIR/vassals/ records (runstate.h): the newest serving process of
 * each name is adopted with its sockets; a process of a reload that was under way is asked to
 * stop; what fails the identity check is left alone. keep[] (room for n) gets the cgroups of
 * what runs, for cgroup_setup() to keep, and going[] those of the processes asked to stop,
 * to be removed once empty: both point into all[]. */
static void manager_adopt(Manager *m, RunState *all, size_t n, const char **keep,
                          size_t *ret_n_keep, const char **going, size_t *ret_n_going) {
        size_t n_keep = 0, n_going = 0, adopted = 0;
        int r;

        for (size_t k = 0; k < n; k++) {
                RunState *s = &all[k];
                char why[512];
                int fds[RUNSTATE_SOCKS_MAX];

                m->spawn_seq = MAX(m->spawn_seq, s->seq);
                int pidfd = runstate_verify(s, m->reports_path, why, sizeof(why));
                if (pidfd == -ESRCH && newest_serving(all, n, k)) {
                        log_warning("vassal '%s' (pid %d) died while no emperor watched it", s->name,
                                    (int) s->pid);
                        history_event_named(m->history, s->name, s->ini, "exit",
                                            "pid %d died while no emperor watched it (status "
                                            "unknown)", (int) s->pid);
                }
                if (pidfd < 0) {
                        if (pidfd != -ESRCH)
                                log_warning("RUN_DIR entry of vassal '%s' refused, pid %d left "
                                            "alone: %s", s->name, (int) s->pid, why);
                        runstate_remove(m->run_dir, s->name, s->pid);
                        continue;
                }
                if (s->cgroup)
                        keep[n_keep++] = s->cgroup;
                if (!newest_serving(all, n, k) || manager_find(m, s->name)) {
                        /* The old or the new one of a reload under way: it goes. */
                        log_notice("vassal '%s': pid %d was not serving, stopping it", s->name,
                                   (int) s->pid);
                        (void) child_signal_pidfd(pidfd, SIGTERM);
                        safe_close(pidfd);
                        if (s->cgroup)
                                going[n_going++] = s->cgroup;
                        runstate_remove(m->run_dir, s->name, s->pid);
                        continue;
                }
                size_t got = 0;
                for (; got < s->n_socks; got++) {
                        fds[got] = runstate_take_socket(s, pidfd, got);
                        if (fds[got] < 0) {
                                log_warning_errno(fds[got], "vassal '%s' (pid %d): cannot take "
                                                  "back its socket '%s': %m; stopping it",
                                                  s->name, (int) s->pid, s->addresses[got]);
                                break;
                        }
                }
                ScanEntry e = { .name = s->name, .path = s->ini, .key = s->key, .uid = s->uid,
                                .gid = s->gid };
                Instance *i = got == s->n_socks ? instance_new(m, &e) : NULL;
                if (!i) {
                        for (size_t j = 0; j < got; j++)
                                safe_close(fds[j]);
                        (void) child_signal_pidfd(pidfd, SIGTERM);
                        safe_close(pidfd);
                        runstate_remove(m->run_dir, s->name, s->pid);
                        continue;
                }
                manager_add(m, i);
                r = instance_adopt(i, s, pidfd, fds);
                if (r < 0) {
                        log_error_errno(r, "vassal '%s': cannot adopt pid %d: %m", s->name,
                                        (int) s->pid);
                        manager_remove(m, i);
                        instance_free(i);
                        continue;
                }
                adopted++;
        }
        if (n > 0)
                log_notice("adopted %zu running vassal(s) of a previous emperor", adopted);
        *ret_n_keep = n_keep;
        *ret_n_going = n_going;
}

int manager_start(Manager *m) {
        RunState *all = NULL;
        size_t n = 0, n_keep = 0, n_going = 0;
        int r;

        r = runstate_load_all(m->run_dir, &all, &n);
        if (r < 0)
                log_warning_errno(r, "Cannot read '%s/vassals': %m", m->run_dir);
        _cleanup_free_ const char **keep = calloc(n + 1, sizeof(char *));
        _cleanup_free_ const char **going = calloc(n + 1, sizeof(char *));
        if (!keep || !going) {
                runstate_free_all(all, n);
                return log_oom();
        }
        manager_adopt(m, all, n, keep, &n_keep, going, &n_going);
        m->cgroup_root = cgroup_setup(m->run_dir, (char *const *) keep, n_keep);
        /* What was asked to stop goes once its group is empty (the reaper sees to it). */
        for (size_t k = 0; k < n_going; k++) {
                char *path = strdup(going[k]);
                if (path)
                        manager_forget_cgroup(m, path);
        }
        runstate_free_all(all, n);
        if (m->cgroup_root)
                log_info("vassals get their own cgroup under '%s'", m->cgroup_root);
        r = manager_notify_socket(m);
        if (r < 0)
                return r;
        r = reports_new(m, m->reports_path, &m->reports);
        if (r < 0)
                return r;
        r = control_new(m, &m->control);
        if (r < 0)
                return r;
        r = manager_watch(m);
        if (r < 0)
                return r;
        manager_watch_link(m);
        r = sd_event_add_time_relative(m->event, &m->rescan, CLOCK_MONOTONIC, RESCAN_USEC,
                                       USEC_PER_SEC, on_rescan, m);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &m->reap, CLOCK_MONOTONIC,
                                               2 * USEC_PER_SEC, USEC_PER_SEC, on_reap, m);
        if (r < 0)
                return log_error_errno(r, "timers: %m");
        manager_rescan(m);
        return 0;
}

void manager_detach(Manager *m, bool upgrade) {
        if (m->stopping || m->detaching)
                return;
        m->detaching = true;
        m->upgrade = upgrade;
        socks_keep_files();
        log_notice("%s: leaving %zu vassal(s) running for the next emperor",
                   upgrade ? "upgrade" : "detaching", m->n_instances);
        history_event(m->history, NULL, "emperor", "%s, %zu vassal(s) left running",
                      upgrade ? "upgrading" : "detached", m->n_instances);
        (void) sd_notify(0, "STOPPING=1");
        (void) sd_event_exit(m->event, 0);
}

const ScanIgnored *manager_ignored(const Manager *m, size_t *ret_n) {
        *ret_n = m->n_ignored;
        return m->ignored;
}

bool manager_detaching(const Manager *m) {
        return m->detaching;
}

bool manager_upgrading(const Manager *m) {
        return m->upgrade;
}

void manager_maybe_exit(Manager *m) {
        if (!m->stopping)
                return;
        for (Instance *i = m->instances; i; i = *instance_link(i))
                if (instance_has_processes(i))
                        return;
        log_notice("every vassal stopped");
        (void) sd_event_exit(m->event, 0);
}

void manager_stop(Manager *m) {
        if (m->stopping)
                return;
        log_notice("stopping %zu vassal(s)", m->n_instances);
        (void) sd_notify(0, "STOPPING=1");
        m->stopping = true;
        m->debounce = sd_event_source_disable_unref(m->debounce);
        m->inotify = sd_event_source_disable_unref(m->inotify);
        m->link_watch = sd_event_source_disable_unref(m->link_watch);
        for (Instance *i = m->instances, *next; i; i = next) {
                next = *instance_link(i);
                instance_shutdown(i);
        }
        manager_maybe_exit(m);
}

/* ---- what the manager was set up with ---- */

sd_event *manager_event(Manager *m) {
        return m->event;
}

const ManagerOps *manager_ops(Manager *m) {
        return m->ops;
}

History *manager_history(Manager *m) {
        return m->history;
}

const char *manager_conf_dir(const Manager *m) {
        return m->conf_dir;
}

const char *manager_run_dir(const Manager *m) {
        return m->run_dir;
}

const char *manager_state_dir(const Manager *m) {
        return m->state_dir;
}

const char *manager_vassal_path(const Manager *m) {
        return m->vassal_path;
}

const char *manager_reports_path(const Manager *m) {
        return m->reports_path;
}

const char *manager_notify_path(const Manager *m) {
        return m->notify_path;
}

const char *manager_cgroup_root(const Manager *m) {
        return m->cgroup_root;
}

bool manager_tyrant(const Manager *m) {
        return m->tyrant;
}

uid_t manager_uid(const Manager *m) {
        return m->uid;
}

unsigned manager_stats_interval(const Manager *m) {
        return m->stats_interval;
}

unsigned manager_ready_timeout(const Manager *m) {
        return m->ready_timeout;
}

bool manager_stopping(const Manager *m) {
        return m->stopping;
}

unsigned manager_spawn_seq(Manager *m) {
        return ++m->spawn_seq;
}
