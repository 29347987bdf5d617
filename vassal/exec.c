/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "child.h"
#include "exec.h"
#include "log.h"

/* While processes of the group outlive its leader, how often we look whether they are gone. */
#define DRAIN_POLL_USEC (100 * 1000ULL)

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
        EXEC_RUNNING,  /* its exec succeeded (lib/child learns that before the start returns) */
        EXEC_STOPPING, /* signalled to stop; its leader still runs */
        EXEC_DRAINING, /* its leader is gone; other processes of its group still run */
        EXEC_BACKOFF,  /* gone; a restart is scheduled */
        _EXEC_STATE_MAX,
        _EXEC_STATE_INVALID = -EINVAL,
} ExecState;

static const char *const exec_state_table[_EXEC_STATE_MAX] = {
        [EXEC_IDLE] = "idle",         [EXEC_RUNNING] = "running",  [EXEC_STOPPING] = "stopping",
        [EXEC_DRAINING] = "draining", [EXEC_BACKOFF] = "backoff",
};

static const char *exec_state_to_string(ExecState s) {
        return s >= 0 && s < _EXEC_STATE_MAX ? exec_state_table[s] : NULL;
}

struct ExecProgram {
        sd_event *event;
        char *name;       /* the command as configured, for messages */
        char **argv;
        char *path;       /* argv[0] resolved through $PATH, at each start */
        int *fds;         /* the listeners, to be fd 3.. in the child */
        size_t n_fds;
        int log_fd;
        uint64_t mercy_usec;
        ExecEventFunc on_event;
        void *userdata;

        ExecState state;
        bool stop_requested;    /* for good: no restart */
        bool restart_requested; /* SIGHUP: start again once gone */
        bool killed;            /* SIGKILL went to the group: no need to wait for stragglers */
        bool drain_unasked;     /* the leader died on its own: stragglers get SIGTERM */
        bool started_once;
        Child *child; /* this run, until nothing of its group is left (lib/child.h) */
        pid_t pid;    /* the leader, until reaped */
        pid_t pgid;   /* its process group, while any of it may run */
        uint64_t started_usec, lived_usec;
        Backoff backoff; /* lib/backoff.h */
        unsigned restarts;
        sd_event_source *poll_timer, *restart_timer;
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

static void on_program_exit(Child *c, const siginfo_t *si, void *userdata);
static void on_program_kill(Child *c, void *userdata);
static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata);
static void program_schedule_restart(ExecProgram *p);

int exec_program_start(ExecProgram *p) {
        /* NOTIFY_SOCKET stays ours: the emperor watches the vassal master, and would take a
         * program's READY=1 from an unknown pid. */
        char *const env_add[] = { (char *) "NOTIFY_SOCKET", NULL };
        int r;

        assert(p->state == EXEC_IDLE || p->state == EXEC_BACKOFF);
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        r = program_resolve(p);
        if (r < 0)
                goto retry;

        ChildSpec s = {
                .path = p->path,
                .argv = p->argv,
                .env_add = env_add,
                .fds = p->fds,
                .n_fds = p->n_fds,
                .stdin_fd = CHILD_FD_NULL,
                .stdout_fd = p->log_fd,
                .stderr_fd = p->log_fd,
                /* Its own session and process group, so a stop reaches whatever it forks. */
                .flags = CHILD_NEW_SESSION | CHILD_RESET_SIGNALS | CHILD_SIGNAL_GROUP,
                /* The master's death (SIGKILL, a crash) must not leave it running
                 * unsupervised: its orderly stops go through us anyway. */
                .pdeath_signal = SIGKILL,
                .on_exit = on_program_exit,
                .on_kill = on_program_kill,
                .userdata = p,
        };
        if (p->started_once)
                p->restarts++;
        p->started_once = true;
        p->killed = false;
        p->started_usec = now_usec();
        r = child_spawn(p->event, &s, &p->child);
        if (r < 0) {
                log_error_errno(r, "Failed to execute '%s': %m", p->path);
                p->lived_usec = 0;
                program_emit(p, EXEC_EVENT_FAILED);
                goto retry;
        }
        p->pid = p->pgid = child_pid(p->child);
        program_set_state(p, EXEC_RUNNING);
        log_notice("program '%s' started (pid %d)", p->name, p->pid);
        program_emit(p, EXEC_EVENT_STARTED);
        return 0;

retry:
        program_schedule_restart(p);
        return r;
}

/* Sends sig to the whole process group (lib/child: the group id is the leader's pid, which
 * is no one else's while the leader is unreaped or any member lives), or to the leader alone
 * when it has not made its group yet. */
static void program_signal(ExecProgram *p, int sig) {
        if (p->child && child_signal(p->child, sig) == -ESRCH && p->pgid > 0)
                (void) child_signal_group(p->child, sig);
}

/* Stops the group: sig now, SIGKILL after the mercy (on_program_kill). */
static void program_stop(ExecProgram *p, int sig) {
        if (p->child)
                (void) child_stop(p->child, sig, p->mercy_usec);
        if (sig == SIGKILL)
                p->killed = true;
}

/* A death nobody asked for: lib/backoff.h decides when it runs again. */
static void program_schedule_restart(ExecProgram *p) {
        uint64_t delay = backoff_next(&p->backoff, p->lived_usec);
        program_set_state(p, EXEC_BACKOFF);
        /* In tenths, rounded up: the floor's "0.97 s" left reads "1 s". */
        unsigned long long tenths = (delay + 99999) / 100000;
        if (tenths == 0)
                log_notice("restarting program '%s' at once", p->name);
        else if (tenths % 10 == 0)
                log_notice("restarting program '%s' in %llu s", p->name, tenths / 10);
        else
                log_notice("restarting program '%s' in %llu.%llu s", p->name, tenths / 10,
                           tenths % 10);
        /* From the loop even when at once: no start from within a stop's callbacks. */
        int r = sd_event_add_time_relative(p->event, &p->restart_timer, CLOCK_MONOTONIC, delay, 0,
                                           on_restart_timer, p);
        if (r < 0)
                log_error_errno(r, "Failed to schedule the restart of '%s': %m", p->name);
}

/* Nothing of this run is left: stop for good, start again, or back off. */
static void program_gone(ExecProgram *p) {
        p->pgid = 0;
        p->child = child_free(p->child); /* its leader is reaped: nothing to kill */
        p->poll_timer = sd_event_source_disable_unref(p->poll_timer);

        if (p->stop_requested) {
                program_set_state(p, EXEC_IDLE);
                program_emit(p, EXEC_EVENT_GONE);
                return;
        }
        if (p->restart_requested) {
                /* Asked for, so no failure: at once, and a fresh beginning (backoff.h). */
                p->restart_requested = false;
                backoff_reset(&p->backoff);
                program_set_state(p, EXEC_IDLE);
                (void) exec_program_start(p);
                return;
        }
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

/* The mercy ran out: lib/child sent SIGKILL to the group. */
static void on_program_kill(Child *c, void *userdata) {
        ExecProgram *p = userdata;
        (void) c;
        log_warning("program '%s' did not stop within reload-mercy (%llu s): killing its "
                    "process group", p->name, (unsigned long long) (p->mercy_usec / 1000000));
        p->killed = true;
        /* SIGKILL cannot be ignored; what is left of the group are zombies for init to reap. */
        if (p->state == EXEC_DRAINING)
                program_gone(p);
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
                program_stop(p, SIGTERM);
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

static void on_program_exit(Child *c, const siginfo_t *si, void *userdata) {
        ExecProgram *p = userdata;
        bool asked = p->stop_requested || p->restart_requested;
        char lived[32];
        (void) c;

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
        p->pid = 0;

        if (!p->killed) {
                /* Here the leader is still a zombie, and so a member of its group: the group
                 * is looked at from the next iteration, once sd-event has reaped it. */
                p->drain_unasked = p->state == EXEC_RUNNING;
                program_set_state(p, EXEC_DRAINING);
                int r = sd_event_add_time_relative(p->event, &p->poll_timer, CLOCK_MONOTONIC, 0,
                                                   1, on_poll_timer, p);
                if (r >= 0)
                        return;
                log_warning_errno(r, "Failed to watch the group of '%s': %m, killing it",
                                  p->name);
                program_signal(p, SIGKILL);
        }
        program_gone(p);
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
        case EXEC_RUNNING:
                log_info("stopping program '%s' (pid %d)%s", p->name, p->pid,
                         graceful ? "" : " at once");
                program_set_state(p, EXEC_STOPPING);
                program_stop(p, graceful ? SIGTERM : SIGKILL);
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
                backoff_reset(&p->backoff);
                (void) exec_program_start(p);
                return;
        case EXEC_RUNNING:
                log_info("restarting program '%s' (pid %d)", p->name, p->pid);
                p->restart_requested = true;
                program_set_state(p, EXEC_STOPPING);
                program_stop(p, SIGTERM);
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
        return p->state == EXEC_RUNNING || p->state == EXEC_STOPPING ||
               p->state == EXEC_DRAINING;
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
        if (!p->fds) {
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
        child_free(p->child); /* reaps the leader */
        sd_event_source_disable_unref(p->poll_timer);
        sd_event_source_disable_unref(p->restart_timer);
        sd_event_unref(p->event);
        free(p->name);
        exec_argv_free(p->argv);
        free(p->path);
        free(p->fds);
        free(p);
        return NULL;
}
