/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "child.h"
#include "log.h"
#include "macro.h"
#include "ops.h"

struct ManagerChild {
        pid_t pid;
        sd_event_source *child;
        ManagerExitFn on_exit;
        void *userdata;
        int fd; /* the read end of a captured child's stdout, else -1 */
        int pidfd; /* an adopted process that is not our child: watched and signalled by it */
        sd_event_source *gone;
        sd_event_source *io;
        char out[OPS_OUTPUT_MAX];
        size_t len;
};

struct ManagerTimer {
        sd_event_source *source;
        ManagerTimerFn fn;
        void *userdata;
};

static uint64_t ops_now(Manager *m) {
        struct timespec ts;
        (void) m;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* Reads what the child printed, keeping the first OPS_OUTPUT_MAX - 1 bytes. */
static void ops_drain(ManagerChild *c) {
        if (c->fd < 0)
                return;
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

static int ops_on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) fd;
        ops_drain(userdata);
        if (revents & (EPOLLHUP | EPOLLERR))
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

/* The owner may release c in on_exit: nothing of c is touched after the call. */
static int ops_on_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        ManagerChild *c = userdata;
        char out[OPS_OUTPUT_MAX];
        bool captured = c->fd >= 0;
        (void) s;

        ops_drain(c);
        memcpy(out, c->out, c->len + 1);
        c->on_exit(c->userdata, si, captured ? out : NULL);
        return 0;
}

static ManagerChild *ops_release(Manager *m, ManagerChild *c) {
        (void) m;
        if (!c)
                return NULL;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->child);
        sd_event_source_disable_unref(c->gone);
        safe_close(c->fd);
        safe_close(c->pidfd);
        free(c);
        return NULL;
}

static int ops_spawn(Manager *m, const SpawnOptions *o, bool capture, ManagerExitFn on_exit,
                     void *userdata, pid_t *ret_pid, int *ret_exec_errno, ManagerChild **ret) {
        sd_event *e = manager_event(m);
        SpawnOptions so = *o;
        int pipefd[2] = { -1, -1 }, exec_errno, r;

        ManagerChild *c = calloc(1, sizeof(ManagerChild));
        if (!c)
                return -ENOMEM;
        c->fd = -1;
        c->pidfd = -1;
        c->on_exit = on_exit;
        c->userdata = userdata;
        if (capture) {
                if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
                        r = -errno;
                        free(c);
                        return r;
                }
                c->fd = pipefd[0];
                so.stdout_fd = pipefd[1];
        }
        r = spawn_process(&so, &c->pid, &exec_errno);
        safe_close(pipefd[1]);
        if (r < 0) {
                ops_release(m, c);
                return r;
        }
        r = sd_event_add_child(e, &c->child, c->pid, WEXITED, ops_on_exit, c);
        if (r >= 0 && capture)
                r = sd_event_add_io(e, &c->io, c->fd, EPOLLIN, ops_on_output, c);
        if (r < 0) {
                /* Unwatched, nobody would reap it: stop it here, synchronously. */
                (void) kill(c->pid, SIGKILL);
                (void) waitpid(c->pid, NULL, 0);
                ops_release(m, c);
                return r;
        }
        *ret_pid = c->pid;
        *ret_exec_errno = exec_errno;
        *ret = c;
        return 0;
}

static void ops_signal(Manager *m, ManagerChild *c, int sig) {
        (void) m;
        if (!c || c->pid <= 0)
                return;
        /* Through the pidfd (lib/child): never a recycled pid, so no kill(pid) fallback. */
        if (c->child)
                (void) child_signal_source(c->child, sig);
        else
                (void) child_signal_pidfd(c->pidfd, sig);
}

/* An adopted process that is not our child ended: how, only its parent (init) knows. */
static int ops_on_gone(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ManagerChild *c = userdata;
        siginfo_t si = { .si_code = 0, .si_pid = c->pid };
        (void) fd;
        (void) revents;
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        c->on_exit(c->userdata, &si, NULL);
        return 0;
}

static bool is_our_child(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *p = strrchr(buf, ')');
        int ppid = 0;
        return p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == getpid();
}

static int ops_adopt(Manager *m, pid_t pid, int pidfd, ManagerExitFn on_exit, void *userdata,
                     ManagerChild **ret) {
        sd_event *e = manager_event(m);
        ManagerChild *c = calloc(1, sizeof(ManagerChild));
        int r;

        if (!c) {
                safe_close(pidfd);
                return -ENOMEM;
        }
        c->pid = pid;
        c->fd = -1;
        c->pidfd = pidfd;
        c->on_exit = on_exit;
        c->userdata = userdata;
        if (is_our_child(pid)) {
                /* After an upgrade's re-exec: still ours to reap, with its exit status. */
                r = sd_event_add_child_pidfd(e, &c->child, pidfd, WEXITED, ops_on_exit, c);
                if (r >= 0) {
                        (void) sd_event_source_set_child_pidfd_own(c->child, true);
                        c->pidfd = -1;
                }
        } else
                r = sd_event_add_io(e, &c->gone, pidfd, EPOLLIN, ops_on_gone, c);
        if (r < 0) {
                ops_release(m, c);
                return r;
        }
        *ret = c;
        return 0;
}

static void ops_kill_tree(Manager *m, pid_t pid, const char *cgroup) {
        if (cgroup)
                cgroup_kill(cgroup);
        if (pid > 0)
                (void) kill(-pid, SIGKILL);
        manager_reap_orphans(m);
}

static int ops_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ManagerTimer *t = userdata;
        (void) s;
        (void) usec;
        t->fn(t->userdata); /* may disarm (free) t */
        return 0;
}

static ManagerTimer *ops_timer_disarm(Manager *m, ManagerTimer *t) {
        (void) m;
        if (!t)
                return NULL;
        sd_event_source_disable_unref(t->source);
        free(t);
        return NULL;
}

static int ops_timer_arm(Manager *m, uint64_t usec, ManagerTimerFn fn, void *userdata,
                         ManagerTimer **ret) {
        *ret = ops_timer_disarm(m, *ret);
        ManagerTimer *t = calloc(1, sizeof(ManagerTimer));
        if (!t)
                return -ENOMEM;
        t->fn = fn;
        t->userdata = userdata;
        /* 1 ms accuracy: sd-event's default (250 ms) would delay a respawn visibly. */
        int r = sd_event_add_time_relative(manager_event(m), &t->source, CLOCK_MONOTONIC, usec,
                                           1000, ops_on_timer, t);
        if (r < 0) {
                free(t);
                return r;
        }
        *ret = t;
        return 0;
}

const ManagerOps ops_system = {
        .now = ops_now,
        .spawn = ops_spawn,
        .signal = ops_signal,
        .kill_tree = ops_kill_tree,
        .adopt = ops_adopt,
        .release = ops_release,
        .timer_arm = ops_timer_arm,
        .timer_disarm = ops_timer_disarm,
};
