/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "macro.h"

extern char **environ;

struct Child {
        sd_event *event;
        pid_t pid;
        int pidfd;
        ChildFlags flags;
        bool reaped;
        bool stopping;
        uint64_t started_usec;
        sd_event_source *exit_src;
        sd_event_source *kill_timer;
        ChildExitFunc on_exit;
        ChildKillFunc on_kill;
        void *userdata;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

char *child_format_ulong(char *buf, size_t size, const char *prefix, unsigned long v) {
        char digits[24];
        size_t n = 0, k = 0;

        if (size == 0)
                return buf;
        for (; prefix && prefix[k] && n + 1 < size; k++)
                buf[n++] = prefix[k];
        k = 0;
        do
                digits[k++] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        while (k > 0 && n + 1 < size)
                buf[n++] = digits[--k];
        buf[n] = 0;
        return buf;
}

/* ---- before the fork: everything the child will need ---- */

/* What the parent prepares and the child only reads (or writes into its own copy). */
typedef struct Prep {
        char **envp;       /* pointers into the base, the spec's env_add and the strings below */
        char *listen_fds;  /* "LISTEN_FDS=N" */
        char *listen_names;
        char listen_pid[32]; /* "LISTEN_PID=", the digits written by the child */
        int *high;           /* scratch: the fds moved out of the way */
} Prep;

static void prep_done(Prep *p) {
        free(p->envp);
        free(p->listen_fds);
        free(p->listen_names);
        free(p->high);
}

static size_t env_name_len(const char *e) {
        return strcspn(e, "=");
}

static bool env_same_name(const char *a, const char *b) {
        size_t n = env_name_len(a);
        return n == env_name_len(b) && strncmp(a, b, n) == 0;
}

static bool env_listen(const char *e) {
        return strncmp(e, "LISTEN_FDS=", 11) == 0 || strncmp(e, "LISTEN_PID=", 11) == 0 ||
               strncmp(e, "LISTEN_FDNAMES=", 15) == 0;
}

/* Whether a later entry of add (from i + 1) names the same variable: that one wins. */
static bool env_overridden(char *const *add, size_t i) {
        for (size_t k = i + 1; add[k]; k++)
                if (env_same_name(add[i], add[k]))
                        return true;
        return false;
}

static int prep_env(const ChildSpec *s, Prep *p) {
        char *const *base = s->env ?: environ;
        char *const none[] = { NULL };
        char *const *add = s->env_add ?: none;
        size_t n = 0, k = 0;

        for (char *const *e = base; *e; e++)
                n++;
        for (char *const *a = add; *a; a++)
                n++;
        p->envp = calloc(n + 4, sizeof(char *));
        if (!p->envp)
                return -ENOMEM;
        for (char *const *e = base; *e; e++) {
                bool replaced = env_listen(*e);
                for (char *const *a = add; *a && !replaced; a++)
                        replaced = env_same_name(*e, *a);
                if (!replaced)
                        p->envp[k++] = *e;
        }
        for (size_t i = 0; add[i]; i++)
                if (strchr(add[i], '=') && !env_overridden(add, i))
                        p->envp[k++] = add[i];
        if (s->n_fds > 0) {
                if (asprintf(&p->listen_fds, "LISTEN_FDS=%zu", s->n_fds) < 0) {
                        p->listen_fds = NULL;
                        return -ENOMEM;
                }
                p->envp[k++] = p->listen_fds;
                strcpy(p->listen_pid, "LISTEN_PID=");
                p->envp[k++] = p->listen_pid;
                if (s->fd_names) {
                        size_t len = sizeof("LISTEN_FDNAMES=");
                        for (size_t i = 0; i < s->n_fds; i++)
                                len += strlen(s->fd_names[i]) + 1;
                        p->listen_names = malloc(len);
                        if (!p->listen_names)
                                return -ENOMEM;
                        char *w = stpcpy(p->listen_names, "LISTEN_FDNAMES=");
                        for (size_t i = 0; i < s->n_fds; i++)
                                w = stpcpy(stpcpy(w, i ? ":" : ""), s->fd_names[i]);
                        p->envp[k++] = p->listen_names;
                }
        }
        p->envp[k] = NULL;
        return 0;
}

/* ---- between fork and exec: async-signal-safe only ---- */

/* Puts fd `from` (>= 3 + n_fds, close-on-exec) at `to`, which loses close-on-exec (dup2 to
 * another number always clears it; PLATFORM.md: dup2 onto itself would keep it). */
static int place(int from, int to) {
        return dup2(from, to) < 0 ? -1 : 0;
}

/* A stdio source moves to floor or above (CHILD_FD_INHERIT and CHILD_FD_NULL stay). */
static int lift(int *fd, int floor) {
        if (*fd < 0)
                return 0;
        int r = fcntl(*fd, F_DUPFD_CLOEXEC, floor);
        if (r < 0)
                return -1;
        *fd = r;
        return 0;
}

static int setup_stdio(int src, int target) {
        if (src == CHILD_FD_INHERIT)
                return 0;
        if (src == CHILD_FD_NULL) {
                int null = open("/dev/null", target == STDIN_FILENO ? O_RDONLY : O_WRONLY);
                if (null < 0)
                        return -1;
                if (null == target)
                        return 0;
                int r = place(null, target);
                (void) close(null);
                return r;
        }
        return place(src, target);
}

_Noreturn static void child_main(const ChildSpec *s, Prep *p, int err_fd, pid_t parent) {
        int n = (int) s->n_fds, floor = 3 + n, e;
        int in = s->stdin_fd, out = s->stdout_fd, err = s->stderr_fd;

        /* Everything still needed goes to floor and above first, so that placing the fds at
         * 3.. and stdio at 0..2 cannot overwrite any of it (each may sit there now). */
        if (err_fd < floor) {
                int fd = fcntl(err_fd, F_DUPFD_CLOEXEC, floor);
                if (fd < 0)
                        _exit(127);
                /* Not left behind: without an exec, only its last copy closing is the EOF. */
                (void) close(err_fd);
                err_fd = fd;
        }
        if (lift(&in, floor) < 0 || lift(&out, floor) < 0 || lift(&err, floor) < 0)
                goto fail;
        for (int i = 0; i < n; i++) {
                p->high[i] = fcntl(s->fds[i], F_DUPFD_CLOEXEC, floor);
                if (p->high[i] < 0)
                        goto fail;
        }
        if (setup_stdio(in, STDIN_FILENO) < 0 || setup_stdio(out, STDOUT_FILENO) < 0 ||
            setup_stdio(err, STDERR_FILENO) < 0)
                goto fail;
        for (int i = 0; i < n; i++)
                if (place(p->high[i], 3 + i) < 0)
                        goto fail;

        if (s->flags & CHILD_RESET_SIGNALS) {
                sigset_t none;
                for (int sig = 1; sig < _NSIG; sig++) {
                        struct sigaction sa = { .sa_handler = SIG_DFL };
                        (void) sigaction(sig, &sa, NULL);
                }
                sigemptyset(&none);
                if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                        goto fail;
        }
        if ((s->flags & CHILD_NEW_SESSION) && setsid() < 0)
                goto fail;
        if ((s->flags & CHILD_NEW_PGROUP) && !(s->flags & CHILD_NEW_SESSION) && setpgid(0, 0) < 0)
                goto fail;
        if (s->pdeath_signal > 0) {
                if (prctl(PR_SET_PDEATHSIG, s->pdeath_signal) < 0)
                        goto fail;
                /* The parent may have died before the prctl: nobody would signal us. */
                if (getppid() != parent)
                        _exit(127);
        }
        if (s->cgroup_procs) {
                /* Best effort, as before: a missing cgroup is not a reason not to run. */
                int fd = open(s->cgroup_procs, O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        (void) !write(fd, "0", 1);
                        (void) close(fd);
                }
        }
        if (s->drop && (setgroups(0, NULL) < 0 || setgid(s->gid) < 0 || setuid(s->uid) < 0))
                goto fail;

        if (!s->path) {
                /* Fork only: the copies above floor go, the EOF tells the parent all is set. */
                for (int i = 0; i < n; i++)
                        (void) close(p->high[i]);
                if (in >= floor)
                        (void) close(in);
                if (out >= floor)
                        (void) close(out);
                if (err >= floor)
                        (void) close(err);
                (void) close(err_fd);
                _exit(s->run ? s->run(s->run_data) : 0);
        }

        /* Nothing else leaks into the program, whatever a library may have opened: err_fd and
         * the copies above floor included (all close-on-exec already). */
        (void) close_range((unsigned) floor, ~0U, CLOSE_RANGE_CLOEXEC);
        if (s->n_fds > 0)
                /* sd_listen_fds() checks LISTEN_PID against getpid(): only we know it now. */
                child_format_ulong(p->listen_pid, sizeof(p->listen_pid), "LISTEN_PID=",
                                   (unsigned long) getpid());
        execve(s->path, s->argv, p->envp);
fail:
        e = errno;
        (void) !write(err_fd, &e, sizeof(e));
        _exit(127);
}

int child_fork(const ChildSpec *s, pid_t *ret_pid, int *ret_pidfd, int *ret_setup_errno) {
        _cleanup_(prep_done) Prep p = {};
        _cleanup_close_ int pidfd = -1;
        int pipefd[2], r;

        if (s->path) {
                r = prep_env(s, &p);
                if (r < 0)
                        return r;
        }
        p.high = calloc(s->n_fds + 1, sizeof(int));
        if (!p.high)
                return -ENOMEM;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(pipefd[0]);
                safe_close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                (void) close(pipefd[0]);
                child_main(s, &p, pipefd[1], parent);
        }
        safe_close(pipefd[1]);

        /* Nobody reaps it but us, and we have not: the pid is still this child's. */
        pidfd = pidfd_open(pid, 0);
        r = pidfd < 0 ? -errno : 0;

        int e = 0;
        ssize_t n;
        do
                n = read(pipefd[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        safe_close(pipefd[0]);
        if (r < 0) {
                /* Unwatchable: it must not run. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        *ret_pid = pid;
        if (ret_pidfd)
                *ret_pidfd = TAKE_FD(pidfd);
        *ret_setup_errno = n == (ssize_t) sizeof(e) ? (e > 0 ? e : EIO) : 0;
        return 0;
}

/* ---- watching ---- */

static int on_child_exit(sd_event_source *src, const siginfo_t *si, void *userdata) {
        Child *c = userdata;
        (void) src;

        c->reaped = true; /* sd-event reaps it right after this callback */
        c->exit_src = sd_event_source_disable_unref(c->exit_src);
        /* A group may outlive its leader: its deadline stands until the caller lets go. */
        if (!(c->flags & CHILD_SIGNAL_GROUP))
                c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
        if (c->on_exit)
                c->on_exit(c, si, c->userdata); /* may free c: the last thing here */
        return 0;
}

static int child_watch(Child *c) {
        int r = sd_event_add_child_pidfd(c->event, &c->exit_src, c->pidfd, WEXITED, on_child_exit,
                                         c);
        if (r < 0)
                return r;
        /* The pidfd stays ours (closed in child_free), after the source. */
        (void) sd_event_source_set_child_pidfd_own(c->exit_src, false);
        return 0;
}

/* A Child for pid, watched by pidfd (not yet: child_watch()), started now as far as we know. */
static Child *child_new(sd_event *e, pid_t pid, int pidfd, const ChildSpec *s) {
        Child *c = calloc(1, sizeof(Child));
        if (!c)
                return NULL;
        *c = (Child) {
                .event = sd_event_ref(e),
                .pid = pid,
                .pidfd = pidfd,
                .flags = s->flags,
                .started_usec = now_usec(),
                .on_exit = s->on_exit,
                .on_kill = s->on_kill,
                .userdata = s->userdata,
        };
        return c;
}

int child_spawn(sd_event *e, const ChildSpec *s, Child **ret) {
        pid_t pid;
        int pidfd, setup_errno;

        int r = child_fork(s, &pid, &pidfd, &setup_errno);
        if (r < 0)
                return r;
        if (setup_errno != 0) {
                safe_close(pidfd);
                (void) waitpid(pid, NULL, 0); /* it exits at once */
                return -setup_errno;
        }
        Child *c = child_new(e, pid, pidfd, s);
        if (!c) {
                safe_close(pidfd);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return -ENOMEM;
        }
        r = child_watch(c);
        if (r < 0) {
                child_free(c); /* kills and reaps it: nobody else would */
                return r;
        }
        *ret = c;
        return 0;
}

int child_adopt(sd_event *e, pid_t pid, const ChildSpec *s, Child **ret) {
        int pidfd = pidfd_open(pid, 0);
        if (pidfd < 0)
                return -errno;
        /* A pidfd for a pid that is not our child (never was, or already reaped and reused)
         * would watch someone else's process: only our children are waitable. */
        siginfo_t si = {};
        if (waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
                int r = -errno;
                safe_close(pidfd);
                return r == -ECHILD ? -ESRCH : r;
        }
        Child *c = child_new(e, pid, pidfd, s);
        if (!c) {
                safe_close(pidfd);
                return -ENOMEM;
        }
        int r = child_watch(c);
        if (r < 0) {
                /* Not ours to kill on the way out: leave it to whoever watched it before. */
                c->reaped = true;
                child_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

Child *child_free(Child *c) {
        if (!c)
                return NULL;
        c->exit_src = sd_event_source_disable_unref(c->exit_src);
        c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
        if (!c->reaped && c->pidfd >= 0) {
                /* Unwatched from now on, nobody would reap it. */
                (void) pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
                siginfo_t si;
                (void) waitid(P_PIDFD, (id_t) c->pidfd, &si, WEXITED);
        }
        safe_close(c->pidfd);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

int child_signal_pidfd(int pidfd, int sig) {
        if (pidfd < 0)
                return -ESRCH;
        return pidfd_send_signal(pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

int child_signal_source(sd_event_source *s, int sig) {
        if (!s)
                return -ESRCH;
        int fd = sd_event_source_get_child_pidfd(s);
        return child_signal_pidfd(fd < 0 ? -1 : fd, sig);
}

int child_signal_group(Child *c, int sig) {
        return kill(-c->pid, sig) < 0 ? -errno : 0;
}

int child_signal(Child *c, int sig) {
        if (!c || c->reaped)
                return -ESRCH;
        /* Before the exec made the group, the leader alone. While it is unreaped its pid, the
         * group id, is no one else's. */
        if ((c->flags & CHILD_SIGNAL_GROUP) && child_signal_group(c, sig) == 0)
                return 0;
        return child_signal_pidfd(c->pidfd, sig);
}

static int on_mercy_out(sd_event_source *src, uint64_t usec, void *userdata) {
        Child *c = userdata;
        (void) src;
        (void) usec;
        c->kill_timer = sd_event_source_disable_unref(c->kill_timer);
        if (!c->reaped)
                (void) child_signal(c, SIGKILL);
        else if (c->flags & CHILD_SIGNAL_GROUP)
                (void) child_signal_group(c, SIGKILL);
        if (c->on_kill)
                c->on_kill(c, c->userdata); /* may free c: the last thing here */
        return 0;
}

int child_stop(Child *c, int sig, uint64_t mercy_usec) {
        c->stopping = true;
        int r = child_signal(c, sig);
        if (r == -ESRCH && (c->flags & CHILD_SIGNAL_GROUP))
                r = child_signal_group(c, sig);
        if (sig == SIGKILL || c->kill_timer || (c->reaped && !(c->flags & CHILD_SIGNAL_GROUP)))
                return r;
        int k = sd_event_add_time_relative(c->event, &c->kill_timer, CLOCK_MONOTONIC, mercy_usec,
                                           0, on_mercy_out, c);
        if (k < 0) {
                /* No deadline, no grace: it goes now. */
                (void) child_signal(c, SIGKILL);
                return k;
        }
        return r;
}

pid_t child_pid(const Child *c) {
        return c ? c->pid : 0;
}

bool child_running(const Child *c) {
        return c && !c->reaped;
}

bool child_stopping(const Child *c) {
        return c && c->stopping;
}

uint64_t child_started(const Child *c) {
        return c->started_usec;
}
