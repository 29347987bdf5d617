/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"

/* Restart delays: the first 1 s (never sooner: s6's floor), doubling up to the cap; a program
 * that ran at least STABLE_USEC starts over at 1 s. */
#define RESTART_MAX_SEC 30u
#define STABLE_USEC (30 * 1000000ULL)
/* While processes of the group outlive its leader, how often we look whether they are gone. */
#define DRAIN_POLL_USEC (100 * 1000ULL)

#define LISTEN_PID_PREFIX "LISTEN_PID="

extern char **environ;

/* ---- splitting the command ---- */

char **exec_argv_free(char **argv) {
        for (char **a = argv; a && *a; a++)
                free(*a);
        free(argv);
        return NULL;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int exec_split(const char *command, char ***ret_argv, const char **ret_why) {
        _cleanup_free_ char *word = malloc(strlen(command) + 1); /* no word is longer */
        char **argv = NULL;
        const char *why = NULL, *s = command;
        size_t n = 0;

        if (!word)
                return -ENOMEM;
        for (;;) {
                while (is_blank(*s))
                        s++;
                if (!*s)
                        break;
                size_t w = 0;
                while (*s && !is_blank(*s)) {
                        if (*s == '\'') {
                                const char *end = strchr(s + 1, '\'');
                                if (!end) {
                                        why = "a command with matching quotes";
                                        goto fail;
                                }
                                memcpy(word + w, s + 1, end - s - 1);
                                w += end - s - 1;
                                s = end + 1;
                        } else if (*s == '"') {
                                for (s++; *s != '"'; s++) {
                                        if (!*s) {
                                                why = "a command with matching quotes";
                                                goto fail;
                                        }
                                        if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
                                                s++;
                                        else if (*s == '$' || *s == '`') {
                                                /* a shell would expand it: we would not */
                                                why = "no unescaped '$' or '`' (no shell runs "
                                                      "the command: use /bin/sh -c '...')";
                                                goto fail;
                                        }
                                        word[w++] = *s;
                                }
                                s++;
                        } else if (*s == '\\') {
                                if (!s[1]) {
                                        why = "a command not ending in a lone backslash";
                                        goto fail;
                                }
                                word[w++] = s[1];
                                s += 2;
                        } else if (strchr("|&;<>()$`", *s)) {
                                why = "no unquoted shell operator such as '|', '>', '$' (no shell "
                                      "runs the command: use /bin/sh -c '...')";
                                goto fail;
                        } else
                                word[w++] = *s++;
                }
                char **grown = realloc(argv, (n + 2) * sizeof(char *));
                if (!grown)
                        goto oom;
                argv = grown;
                argv[n] = strndup(word, w);
                argv[n + 1] = NULL;
                if (!argv[n])
                        goto oom;
                n++;
        }
        if (n == 0) {
                why = "a command to run";
                goto fail;
        }
        *ret_argv = argv;
        return 0;
oom:
        exec_argv_free(argv);
        return -ENOMEM;
fail:
        exec_argv_free(argv);
        if (ret_why)
                *ret_why = why;
        return -EINVAL;
}

/* ---- the supervised program ---- */

typedef enum ExecState {
        EXEC_IDLE,     /* not running and nothing scheduled: before the start, after the stop */
        EXEC_STARTING, /* forked; its exec has neither succeeded nor failed yet */
        EXEC_RUNNING,
        EXEC_STOPPING, /* signalled to stop; its leader still runs */
        EXEC_DRAINING, /* its leader is gone; other processes of its group still run */
        EXEC_BACKOFF,  /* gone; a restart is scheduled */
        _EXEC_STATE_MAX,
        _EXEC_STATE_INVALID = -EINVAL,
} ExecState;

static const char *const exec_state_table[_EXEC_STATE_MAX] = {
        [EXEC_IDLE] = "idle",         [EXEC_STARTING] = "starting", [EXEC_RUNNING] = "running",
        [EXEC_STOPPING] = "stopping", [EXEC_DRAINING] = "draining", [EXEC_BACKOFF] = "backoff",
};

static const char *exec_state_to_string(ExecState s) {
        return s >= 0 && s < _EXEC_STATE_MAX ? exec_state_table[s] : NULL;
}

struct ExecProgram {
        sd_event *event;
        char *name;       /* the command as configured, for messages */
        char **argv;
        char *path;       /* argv[0] resolved through $PATH, at each start */
        char **envp;      /* ours without LISTEN_* and NOTIFY_SOCKET, plus LISTEN_FDS/PID */
        char *listen_pid; /* the LISTEN_PID= entry of envp: the child writes its pid into it */
        int *fds;         /* the listeners, to be fd 3.. in the child */
        int *high;        /* scratch for the child: the listeners moved out of the way */
        size_t n_fds;
        int log_fd;
        uint64_t mercy_usec;
        ExecEventFunc on_event;
        void *userdata;

        ExecState state;
        bool stop_requested;    /* for good: no restart */
        bool restart_requested; /* SIGHUP: start again once gone */
        bool exec_ok;           /* this run got past exec, so it leads its own process group */
        bool killed;            /* SIGKILL went to the group: no need to wait for stragglers */
        bool drain_unasked;     /* the leader died on its own: stragglers get SIGTERM */
        bool started_once;
        pid_t pid;  /* the leader, until reaped */
        pid_t pgid; /* its process group, while any of it may run */
        uint64_t started_usec, lived_usec;
        unsigned backoff_sec;
        unsigned restarts;
        int err_fd; /* read end of the exec-error pipe */
        sd_event_source *child_src, *err_src, *kill_timer, *poll_timer, *restart_timer;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void program_set_state(ExecProgram *p, ExecState state) {
        if (p->state == state)
                return;
        log_debug("program '%s': %s -> %s", p->name, exec_state_to_string(p->state),
                  exec_state_to_string(state));
        p->state = state;
}

static void program_emit(ExecProgram *p, ExecEvent ev) {
        if (p->on_event)
                p->on_event(p, ev, p->userdata);
}

/* Whether name is an executable regular file. */
static bool is_executable(const char *name) {
        struct stat st;
        return stat(name, &st) == 0 && S_ISREG(st.st_mode) && access(name, X_OK) == 0;
}

/* Resolves argv[0] through $PATH as execvp would, but in the parent: the child then only
 * calls execve. Not found, the name itself is kept and the exec reports ENOENT. */
static int program_resolve(ExecProgram *p) {
        const char *name = p->argv[0];
        const char *path = getenv("PATH") ?: "/usr/local/bin:/usr/bin:/bin";

        p->path = mfree(p->path);
        if (!strchr(name, '/')) {
                for (const char *dir = path; *dir;) {
                        size_t len = strcspn(dir, ":");
                        char *candidate = NULL;
                        if (asprintf(&candidate, "%.*s%s%s", (int) len, dir, len ? "/" : "",
                                     name) < 0)
                                return log_oom();
                        if (is_executable(candidate)) {
                                p->path = candidate;
                                return 0;
                        }
                        free(candidate);
                        dir += len;
                        if (*dir == ':')
                                dir++;
                }
        }
        p->path = strdup(name);
        return p->path ? 0 : log_oom();
}

/* fd `from` becomes fd `to` without close-on-exec. dup2() onto itself would be a no-op that
 * keeps FD_CLOEXEC set (PLATFORM.md), so that case clears the flag instead. */
static int move_fd(int from, int to) {
        if (from == to)
                return fcntl(to, F_SETFD, 0);
        return dup2(from, to) < 0 ? -1 : 0;
}

/* In the child, between fork and exec: async-signal-safe calls only (the master may have
 * other threads in no case here, but malloc's locks are not ours to trust). Any failure is
 * sent as errno through err_fd; the parent logs it. */
_Noreturn static void program_child(ExecProgram *p, int err_fd, pid_t parent) {
        int n = (int) p->n_fds, e;
        sigset_t none;

        /* Everything we still need goes above fd 3+n first, so that placing the listeners at
         * 3.. cannot overwrite it (a listener, the log pipe or err_fd may sit there now). */
        int fd = fcntl(err_fd, F_DUPFD_CLOEXEC, 3 + n);
        if (fd < 0)
                _exit(127);
        err_fd = fd;
        int log_fd = fcntl(p->log_fd, F_DUPFD_CLOEXEC, 3 + n);
        if (log_fd < 0)
                goto fail;
        for (int i = 0; i < n; i++) {
                p->high[i] = fcntl(p->fds[i], F_DUPFD_CLOEXEC, 3 + n);
                if (p->high[i] < 0)
                        goto fail;
        }
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (null < 0 || move_fd(null, STDIN_FILENO) < 0 || move_fd(log_fd, STDOUT_FILENO) < 0 ||
            move_fd(log_fd, STDERR_FILENO) < 0)
                goto fail;
        for (int i = 0; i < n; i++)
                if (move_fd(p->high[i], 3 + i) < 0)
                        goto fail;
        /* Nothing else leaks into the program, whatever a library may have opened. */
        (void) close_range(3 + n, ~0U, CLOSE_RANGE_CLOEXEC);

        /* The mask and the dispositions survive exec: ours block SIGTERM and friends (for the
         * signalfd) and ignore SIGPIPE; the program must get the defaults. */
        for (int sig = 1; sig < _NSIG; sig++) {
                struct sigaction sa = { .sa_handler = SIG_DFL };
                (void) sigaction(sig, &sa, NULL);
        }
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;

        /* Its own session and process group, so a stop reaches whatever it forks. */
        if (setsid() < 0)
                goto fail;
        /* The master's death (SIGKILL, a crash) must not leave it running unsupervised: its
         * orderly stops go through us anyway. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                goto fail;
        if (getppid() != parent)
                _exit(127);

        if (p->listen_pid) {
                /* LISTEN_PID must be our pid (sd_listen_fds checks it): written here, after
                 * fork, without printf. */
                char digits[16];
                int k = 0;
                for (unsigned long v = (unsigned long) getpid(); v > 0 || k == 0; v /= 10)
                        digits[k++] = (char) ('0' + v % 10);
                char *d = p->listen_pid + strlen(LISTEN_PID_PREFIX);
                while (k > 0)
                        *d++ = digits[--k];
                *d = 0;
        }
        execve(p->path, p->argv, p->envp);
fail:
        e = errno;
        (void) !write(err_fd, &e, sizeof(e));
        _exit(127);
}

static int on_program_exit(sd_event_source *s, const siginfo_t *si, void *userdata);
static int on_exec_result(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata);
static void program_schedule_restart(ExecProgram *p);

int exec_program_start(ExecProgram *p) {
        int pipefd[2] = { -1, -1 }, r;

        assert(p->state == EXEC_IDLE || p->state == EXEC_BACKOFF);
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        r = program_resolve(p);
        if (r < 0)
                goto retry;
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                r = log_error_errno(errno, "Failed to make a pipe for '%s': %m", p->name);
                goto retry;
        }

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                r = log_error_errno(errno, "Failed to fork for '%s': %m", p->name);
                goto retry;
        }
        if (pid == 0) {
                (void) close(pipefd[0]);
                program_child(p, pipefd[1], parent);
        }
        pipefd[1] = safe_close(pipefd[1]);

        if (p->started_once)
                p->restarts++;
        p->started_once = true;
        p->pid = p->pgid = pid;
        p->exec_ok = p->killed = false;
        p->started_usec = now_usec();
        r = sd_event_add_child(p->event, &p->child_src, pid, WEXITED, on_program_exit, p);
        if (r < 0) {
                /* Nobody would reap it: it must not run. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                p->pid = p->pgid = 0;
                log_error_errno(r, "Failed to watch '%s' (pid %d): %m", p->name, pid);
                goto retry;
        }
        p->err_fd = TAKE_FD(pipefd[0]);
        (void) fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
        r = sd_event_add_io(p->event, &p->err_src, p->err_fd, EPOLLIN, on_exec_result, p);
        if (r < 0)
                log_warning_errno(r, "Failed to watch the exec of '%s': %m, learning the result "
                                  "when it exits", p->name);
        program_set_state(p, EXEC_STARTING);
        log_debug("program '%s': forked pid %d", p->name, pid);
        return 0;

retry:
        safe_close(pipefd[0]);
        safe_close(pipefd[1]);
        program_schedule_restart(p);
        return r;
}

/* Reads the exec result once it is there: an errno (the exec failed) or EOF (the exec closed
 * the close-on-exec pipe: it succeeded). */
static void program_confirm(ExecProgram *p) {
        int e = 0;
        ssize_t n;

        if (p->err_fd < 0)
                return;
        do
                n = read(p->err_fd, &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno == EAGAIN)
                return;
        p->err_src = sd_event_source_disable_unref(p->err_src);
        p->err_fd = safe_close(p->err_fd);

        if (n == (ssize_t) sizeof(e)) {
                log_error_errno(e, "Failed to execute '%s': %m", p->path);
                program_emit(p, EXEC_EVENT_FAILED);
                return;
        }
        p->exec_ok = true;
        if (p->state != EXEC_STARTING)
                return; /* a stop came first */
        program_set_state(p, EXEC_RUNNING);
        log_notice("program '%s' started (pid %d)", p->name, p->pid);
        program_emit(p, EXEC_EVENT_STARTED);
}

static int on_exec_result(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) s;
        (void) fd;
        (void) revents;
        program_confirm(userdata);
        return 0;
}

/* Sends sig to the whole process group, or to the leader alone when it has not made its group
 * yet (before exec). The group id is the leader's pid, which cannot be reused while the
 * leader is unreaped or any member lives. */
static void program_signal(ExecProgram *p, int sig) {
        if (p->pgid > 0 && kill(-p->pgid, sig) == 0)
                return;
        if (p->pid > 0 && (!p->child_src ||
                           sd_event_source_send_child_signal(p->child_src, sig, NULL, 0) < 0))
                (void) kill(p->pid, sig);
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void program_arm_kill_timer(ExecProgram *p) {
        if (p->kill_timer)
                return;
        int r = sd_event_add_time_relative(p->event, &p->kill_timer, CLOCK_MONOTONIC,
                                           p->mercy_usec, 0, on_kill_timer, p);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm the stop deadline of '%s': %m, killing it now",
                                  p->name);
                program_signal(p, SIGKILL);
                p->killed = true;
        }
}

static void program_schedule_restart(ExecProgram *p) {
        p->backoff_sec = p->backoff_sec ? MIN(p->backoff_sec * 2, RESTART_MAX_SEC) : 1;
        program_set_state(p, EXEC_BACKOFF);
        log_notice("restarting program '%s' in %u s", p->name, p->backoff_sec);
        int r = sd_event_add_time_relative(p->event, &p->restart_timer, CLOCK_MONOTONIC,
                                           (uint64_t) p->backoff_sec * 1000000, 0,
                                           on_restart_timer, p);
        if (r < 0)
                log_error_errno(r, "Failed to schedule the restart of '%s': %m", p->name);
}

/* Nothing of this run is left: stop for good, start again, or back off. */
static void program_gone(ExecProgram *p) {
        p->pgid = 0;
        p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
        p->poll_timer = sd_event_source_disable_unref(p->poll_timer);

        if (p->stop_requested) {
                program_set_state(p, EXEC_IDLE);
                program_emit(p, EXEC_EVENT_GONE);
                return;
        }
        if (p->restart_requested) {
                p->restart_requested = false;
                p->backoff_sec = 0;
                program_set_state(p, EXEC_IDLE);
                (void) exec_program_start(p);
                return;
        }
        if (p->lived_usec >= STABLE_USEC)
                p->backoff_sec = 0;
        program_schedule_restart(p);
}

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ExecProgram *p = userdata;
        (void) s;
        (void) usec;
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        if (p->state == EXEC_BACKOFF && !p->stop_requested)
                (void) exec_program_start(p);
        return 0;
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ExecProgram *p = userdata;
        (void) s;
        (void) usec;
        p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
        log_warning("program '%s' did not stop within reload-mercy (%llu s): killing its "
                    "process group", p->name, (unsigned long long) (p->mercy_usec / 1000000));
        program_signal(p, SIGKILL);
        p->killed = true;
        /* SIGKILL cannot be ignored; what is left of the group are zombies for init to reap. */
        if (p->state == EXEC_DRAINING)
                program_gone(p);
        return 0;
}

/* After the leader's exit: whether processes of its group outlived it. They are not our
 * children (init reaps them), so no event tells us when they are gone: look, until they are,
 * or the deadline kills them. */
static int on_poll_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ExecProgram *p = userdata;
        (void) usec;
        if (p->pgid <= 0 || (kill(-p->pgid, 0) < 0 && errno == ESRCH)) {
                p->poll_timer = sd_event_source_disable_unref(p->poll_timer);
                program_gone(p);
                return 0;
        }
        if (p->drain_unasked) {
                p->drain_unasked = false;
                log_warning("program '%s': processes of its group outlived it, stopping them",
                            p->name);
                program_signal(p, SIGTERM);
                program_arm_kill_timer(p);
        }
        int r = sd_event_source_set_time_relative(s, DRAIN_POLL_USEC);
        if (r >= 0)
                r = sd_event_source_set_time_accuracy(s, DRAIN_POLL_USEC / 10);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return r;
}

static void format_lived(uint64_t usec, char *buf, size_t size) {
        (void) snprintf(buf, size, "%llu.%01llu s", (unsigned long long) (usec / 1000000),
                        (unsigned long long) (usec % 1000000 / 100000));
}

static int on_program_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        ExecProgram *p = userdata;
        bool asked = p->stop_requested || p->restart_requested;
        char lived[32];

        program_confirm(p); /* an exec failure is logged before the exit it causes */
        p->lived_usec = now_usec() - p->started_usec;
        format_lived(p->lived_usec, lived, sizeof(lived));
        if (si->si_code == CLD_EXITED)
                log_full_errno(asked ? LOG_INFO : LOG_WARNING, 0,
                               "program '%s' (pid %d) exited with status %d after %s",
                               p->name, p->pid, si->si_status, lived);
        else
                log_full_errno(asked ? LOG_INFO : LOG_WARNING, 0,
                               "program '%s' (pid %d) killed by signal %s%s after %s",
                               p->name, p->pid, strsignal(si->si_status),
                               si->si_code == CLD_DUMPED ? " (core dumped)" : "", lived);
        p->child_src = sd_event_source_disable_unref(s);
        p->pid = 0;

        if (p->exec_ok && !p->killed) {
                /* Here the leader is still a zombie, and so a member of its group: the group
                 * is looked at from the next iteration, once sd-event has reaped it. */
                p->drain_unasked = p->state == EXEC_RUNNING || p->state == EXEC_STARTING;
                program_set_state(p, EXEC_DRAINING);
                int r = sd_event_add_time_relative(p->event, &p->poll_timer, CLOCK_MONOTONIC, 0,
                                                   1, on_poll_timer, p);
                if (r >= 0)
                        return 0;
                log_warning_errno(r, "Failed to watch the group of '%s': %m, killing it",
                                  p->name);
                program_signal(p, SIGKILL);
        }
        program_gone(p);
        return 0;
}

void exec_program_stop(ExecProgram *p, bool graceful) {
        bool again = p->stop_requested;

        p->stop_requested = true;
        p->restart_requested = false;
        switch (p->state) {
        case EXEC_IDLE:
        case EXEC_BACKOFF:
                p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
                program_set_state(p, EXEC_IDLE);
                if (!again)
                        program_emit(p, EXEC_EVENT_GONE);
                return;
        case EXEC_STARTING:
        case EXEC_RUNNING:
                log_info("stopping program '%s' (pid %d)%s", p->name, p->pid,
                         graceful ? "" : " at once");
                program_set_state(p, EXEC_STOPPING);
                program_signal(p, graceful ? SIGTERM : SIGKILL);
                p->killed = !graceful;
                if (graceful)
                        program_arm_kill_timer(p);
                return;
        case EXEC_STOPPING:
        case EXEC_DRAINING:
                if (graceful)
                        return;
                program_signal(p, SIGKILL);
                p->killed = true;
                if (p->state == EXEC_DRAINING)
                        program_gone(p);
                return;
        default:
                assert(!"bad ExecState");
        }
}

void exec_program_restart(ExecProgram *p) {
        if (p->stop_requested)
                return;
        switch (p->state) {
        case EXEC_IDLE:
        case EXEC_BACKOFF:
                p->backoff_sec = 0;
                (void) exec_program_start(p);
                return;
        case EXEC_STARTING:
        case EXEC_RUNNING:
                log_info("restarting program '%s' (pid %d)", p->name, p->pid);
                p->restart_requested = true;
                program_set_state(p, EXEC_STOPPING);
                program_signal(p, SIGTERM);
                program_arm_kill_timer(p);
                return;
        case EXEC_STOPPING:
        case EXEC_DRAINING:
                p->restart_requested = true;
                return;
        default:
                assert(!"bad ExecState");
        }
}

bool exec_program_alive(const ExecProgram *p) {
        return p->state == EXEC_STARTING || p->state == EXEC_RUNNING ||
               p->state == EXEC_STOPPING || p->state == EXEC_DRAINING;
}

pid_t exec_program_pid(const ExecProgram *p) {
        return p->pid;
}

unsigned exec_program_restarts(const ExecProgram *p) {
        return p->restarts;
}

const char *exec_program_name(const ExecProgram *p) {
        return p->name;
}

static bool env_is_ours(const char *e) {
        static const char *const drop[] = { "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=",
                                            "NOTIFY_SOCKET=" };
        for (size_t i = 0; i < ELEMENTSOF(drop); i++)
                if (strncmp(e, drop[i], strlen(drop[i])) == 0)
                        return true;
        return false;
}

/* Our environment, without what describes us to our supervisor: LISTEN_* are rewritten for the
 * program, and NOTIFY_SOCKET stays ours (the emperor watches the vassal master, and would
 * take a program's READY=1 from an unknown pid). */
static int program_build_env(ExecProgram *p) {
        size_t n = 0, k = 0;
        char **envp;

        for (char **e = environ; e && *e; e++)
                n++;
        envp = calloc(n + 3, sizeof(char *));
        if (!envp)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (env_is_ours(environ[i]))
                        continue;
                char *copy = strdup(environ[i]);
                if (!copy)
                        goto oom;
                envp[k++] = copy;
        }
        if (p->n_fds > 0) {
                char *fds = NULL, *pid = calloc(1, strlen(LISTEN_PID_PREFIX) + 16);
                if (!pid || asprintf(&fds, "LISTEN_FDS=%zu", p->n_fds) < 0) {
                        free(pid);
                        goto oom;
                }
                strcpy(pid, LISTEN_PID_PREFIX);
                envp[k++] = fds;
                envp[k++] = p->listen_pid = pid;
        }
        p->envp = envp;
        return 0;
oom:
        exec_argv_free(envp);
        return -ENOMEM;
}

int exec_program_new(const ExecParams *params, ExecProgram **ret) {
        ExecProgram *p = calloc(1, sizeof(*p));
        const char *why = NULL;
        int r;

        if (!p)
                return log_oom();
        *p = (ExecProgram) {
                .event = sd_event_ref(params->event),
                .log_fd = params->log_fd,
                .mercy_usec = params->mercy_usec,
                .on_event = params->on_event,
                .userdata = params->userdata,
                .err_fd = -1,
        };
        p->name = strdup(params->command);
        if (!p->name) {
                exec_program_free(p);
                return log_oom();
        }
        r = exec_split(params->command, &p->argv, &why);
        if (r < 0) {
                exec_program_free(p);
                return r == -ENOMEM ? log_oom()
                                    : log_error_errno(r, "exec = %s: expected %s", params->command,
                                                      strempty(why));
        }
        p->n_fds = params->listeners->n;
        p->fds = calloc(p->n_fds + 1, sizeof(int));
        p->high = calloc(p->n_fds + 1, sizeof(int));
        if (!p->fds || !p->high || program_build_env(p) < 0) {
                exec_program_free(p);
                return log_oom();
        }
        for (size_t i = 0; i < p->n_fds; i++) {
                p->fds[i] = params->listeners->items[i].fd;
                /* Blocking, as systemd passes them: a program may accept() without polling.
                 * (The flag belongs to the open socket, shared with our copy; the master
                 * never accepts in exec mode.) */
                int fl = fcntl(p->fds[i], F_GETFL);
                if (fl >= 0)
                        (void) fcntl(p->fds[i], F_SETFL, fl & ~O_NONBLOCK);
        }
        *ret = p;
        return 0;
}

ExecProgram *exec_program_free(ExecProgram *p) {
        if (!p)
                return NULL;
        /* Only reached with the program alive when the master gives up abnormally. */
        if (p->pid > 0 || p->state == EXEC_DRAINING)
                program_signal(p, SIGKILL);
        sd_event_source_disable_unref(p->child_src);
        sd_event_source_disable_unref(p->err_src);
        sd_event_source_disable_unref(p->kill_timer);
        sd_event_source_disable_unref(p->poll_timer);
        sd_event_source_disable_unref(p->restart_timer);
        safe_close(p->err_fd);
        sd_event_unref(p->event);
        free(p->name);
        exec_argv_free(p->argv);
        exec_argv_free(p->envp);
        free(p->path);
        free(p->fds);
        free(p->high);
        free(p);
        return NULL;
}
