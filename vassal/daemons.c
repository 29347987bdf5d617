/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "child.h"
#include "conf.h"
#include "daemons.h"
#include "exec.h"
#include "log.h"
#include "macro.h"
#include "users.h"

/* A smart daemon's command exited without a live pid in its pidfile: it gets this long for the
 * pidfile to appear (a daemonizing parent often exits before its child writes it). */
#define PIDFILE_WAIT_USEC (10ULL * 1000000ULL)
/* The longest partial line a dumb daemon's reader keeps before writing it in pieces. */
#define OUTPUT_LINE_MAX 4096

/* ---- parsing ---- */

int daemon_parse_signal(const char *s) {
        int64_t v;
        if (conf_parse_int(s, &v) >= 0)
                return v >= 1 && v < _NSIG ? (int) v : -EINVAL;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (int sig = 1; sig < SIGRTMIN; sig++) {
                const char *abbrev = sigabbrev_np(sig);
                if (abbrev && strcaseeq(abbrev, s))
                        return sig;
        }
        return -EINVAL;
}

void daemon_spec_done(DaemonSpec *s) {
        free(s->command);
        free(s->pidfile);
        for (char **p = s->touch; p && *p; p++)
                free(*p);
        free(s->touch);
        free(s->uid);
        free(s->gid);
        free(s->chdir);
        *s = (DaemonSpec) {};
}

static int set_string(char **field, const char *v) {
        char *copy = strdup(v);
        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

/* "a;b;c" into a NULL-terminated list, empty parts dropped. */
static int split_touch(const char *v, char ***ret) {
        _cleanup_free_ char *copy = strdup(v);
        size_t n = 0;
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
                char **l = reallocarray(*ret, n + 2, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                *ret = l;
                l[n] = strdup(t);
                l[n + 1] = NULL;
                if (!l[n])
                        return -ENOMEM;
                n++;
        }
        return 0;
}

static int parse_keyval(const char *value, DaemonSpec *s, const char **ret_why) {
        _cleanup_free_ char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        int r = 0;
        for (char *kv = strtok_r(copy, ",", &save); kv && r >= 0;
             kv = strtok_r(NULL, ",", &save)) {
                char *v = strchr(kv, '=');
                bool b;
                int64_t n;
                if (!v) {
                        *ret_why = "key=value pairs separated by commas (cmd=..., pidfile=..., "
                                   "...)";
                        return -EINVAL;
                }
                *v++ = 0;
                if (streq(kv, "cmd") || streq(kv, "command") || streq(kv, "exec"))
                        r = set_string(&s->command, v);
                else if (streq(kv, "pidfile"))
                        r = set_string(&s->pidfile, v);
                else if (streq(kv, "chdir"))
                        r = set_string(&s->chdir, v);
                else if (streq(kv, "uid"))
                        r = set_string(&s->uid, v);
                else if (streq(kv, "gid"))
                        r = set_string(&s->gid, v);
                else if (streq(kv, "touch"))
                        r = split_touch(v, &s->touch);
                else if (streq(kv, "freq")) {
                        if (conf_parse_int(v, &n) < 0 || n < 0 || n > 1000000) {
                                *ret_why = "freq=N, the quick deaths in a row before the daemon "
                                           "is given up (0: never)";
                                return -EINVAL;
                        }
                        s->freq = n;
                } else if (streq(kv, "stopsignal") || streq(kv, "stop_signal") ||
                           streq(kv, "reloadsignal") || streq(kv, "reload_signal")) {
                        int sig = daemon_parse_signal(v);
                        if (sig < 0) {
                                *ret_why = "a signal number or name (15, TERM, SIGQUIT)";
                                return -EINVAL;
                        }
                        if (kv[0] == 's')
                                s->stop_signal = sig;
                        else
                                s->reload_signal = sig;
                } else if (streq(kv, "control") || streq(kv, "daemonize") ||
                           streq(kv, "daemon") || streq(kv, "stdin")) {
                        if (conf_parse_bool(v, &b) < 0) {
                                *ret_why = "a boolean (1/0, true/false) for control, daemonize "
                                           "and stdin";
                                return -EINVAL;
                        }
                        if (streq(kv, "control"))
                                s->control = b;
                        else if (streq(kv, "stdin"))
                                s->keep_stdin = b;
                        else
                                s->daemonize = b;
                } else if (streq(kv, "ns_pid")) {
                        *ret_why = "no ns_pid: pid namespaces are not supported";
                        return -EINVAL;
                } else {
                        *ret_why = "keys among cmd, freq, pidfile, control, daemonize, touch, "
                                   "stopsignal, reloadsignal, stdin, uid, gid, chdir";
                        return -EINVAL;
                }
        }
        if (r < 0)
                return r;
        if (!s->command || !s->command[0]) {
                *ret_why = "a cmd=COMMAND key";
                return -EINVAL;
        }
        if (s->daemonize && !s->pidfile) {
                *ret_why = "a pidfile=PATH key with daemonize (the master writes the pid there)";
                return -EINVAL;
        }
        return 0;
}

int daemon_spec_parse(DaemonKind kind, const char *value, DaemonSpec *ret, const char **ret_why) {
        DaemonSpec s = { .stop_signal = SIGTERM };
        const char *p = value + strspn(value, " \t");
        int r;

        if (kind == DAEMON_KEYVAL)
                r = parse_keyval(p, &s, ret_why);
        else if (kind == DAEMON_ATTACH)
                r = *p ? set_string(&s.command, p) : -EINVAL;
        else {
                size_t n = strcspn(p, " \t");
                const char *cmd = p + n + strspn(p + n, " \t");
                if (n == 0 || !*cmd)
                        r = -EINVAL;
                else {
                        s.pidfile = strndup(p, n);
                        s.command = strdup(cmd);
                        s.daemonize = kind == DAEMON_SMART2;
                        r = s.pidfile && s.command ? 0 : -ENOMEM;
                }
        }
        if (r == -EINVAL && kind == DAEMON_ATTACH)
                *ret_why = "a command";
        else if (r == -EINVAL && kind != DAEMON_KEYVAL)
                *ret_why = "PIDFILE COMMAND";
        if (r >= 0 && s.uid) {
                uid_t uid;
                if (user_resolve(s.uid, &uid, NULL, NULL) < 0) {
                        *ret_why = "uid=USER, a user that exists";
                        r = -EINVAL;
                }
        }
        if (r >= 0 && s.gid) {
                gid_t gid;
                if (group_resolve(s.gid, &gid) < 0) {
                        *ret_why = "gid=GROUP, a group that exists";
                        r = -EINVAL;
                }
        }
        if (r < 0) {
                daemon_spec_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

/* ---- a dumb daemon's output: lines into the log, prefixed ---- */

typedef struct Output {
        Logger *logger;
        sd_event_source *src;
        int fd;
        char *prefix; /* "[daemon NAME] " */
        size_t n;
        char buf[OUTPUT_LINE_MAX];
} Output;

static Output *output_free(Output *o) {
        if (!o)
                return NULL;
        sd_event_source_disable_unref(o->src);
        safe_close(o->fd);
        free(o->prefix);
        free(o);
        return NULL;
}

static void output_line(Output *o, const char *line, size_t n) {
        size_t plen = strlen(o->prefix);
        _cleanup_free_ char *out = malloc(plen + n + 1);
        if (!out)
                return;
        memcpy(out, o->prefix, plen);
        memcpy(out + plen, line, n);
        out[plen + n] = '\n';
        (void) logger_feed(o->logger, out, plen + n + 1);
}

/* Writes the whole lines held; with all, the partial last one too. */
static void output_flush(Output *o, bool all) {
        size_t start = 0;
        for (size_t i = 0; i < o->n; i++)
                if (o->buf[i] == '\n') {
                        output_line(o, o->buf + start, i - start);
                        start = i + 1;
                }
        if ((all || start == 0) && start < o->n && (all || o->n == sizeof(o->buf))) {
                output_line(o, o->buf + start, o->n - start);
                start = o->n;
        }
        memmove(o->buf, o->buf + start, o->n - start);
        o->n -= start;
}

static int on_output(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Output *o = userdata;
        (void) src;
        (void) revents;
        for (;;) {
                ssize_t k = read(fd, o->buf + o->n, sizeof(o->buf) - o->n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return 0;
                if (k <= 0) {
                        /* EOF: every writer is gone; the rest is written, the reader rests. */
                        output_flush(o, true);
                        o->src = sd_event_source_disable_unref(o->src);
                        return 0;
                }
                o->n += (size_t) k;
                output_flush(o, false);
        }
}

/* ---- the daemons ---- */

typedef struct Daemons Daemons;

typedef struct Daemon {
        Daemons *d;
        size_t index;
        DaemonSpec spec;
        char *name;
        char *script; /* what /bin/sh -c runs */
        uint64_t hash;

        /* dumb: the daemon itself (lib/child: killed if freed while it runs) */
        Child *child;
        Output *out;
        bool restart_now; /* a touch: start again as soon as it is gone */

        /* smart: the pid in the pidfile, watched by a pidfd (ours or not) */
        pid_t watched;
        sd_event_source *watch;
        pid_t spawned;       /* the command we ran, until it is reaped */
        bool waiting;        /* for the pidfile to name a live pid */
        sd_event_source *pidfile_watch;
        sd_event_source *pidfile_timer;

        sd_event_source *restart_timer;
        sd_event_source **touch;
        size_t n_touch;
        Backoff backoff;
        uint64_t started_usec;
        bool broken;
} Daemon;

/* A child of ours we only reap: a smart daemon's command, or one the previous image ran. */
typedef struct Reaper {
        Daemons *d;
        pid_t pid;
        sd_event_source *src;
} Reaper;

/* A dumb daemon of the previous image, to be gone before the new ones start. */
typedef struct OldDaemon {
        Daemons *d;
        Child *child;
} OldDaemon;

struct Daemons {
        sd_event *event;
        Logger *logger;
        Daemon *daemons;
        size_t n;
        Reaper **reapers;
        size_t n_reapers;
        OldDaemon *old;
        size_t n_old, n_old_alive;
        uint64_t mercy_usec;
        bool started, start_pending, stopping, root;
        void (*on_gone)(void *userdata);
        void (*on_control_death)(const char *name, void *userdata);
        void *userdata;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static uint64_t hash_string(const char *s) {
        uint64_t h = UINT64_C(14695981039346656037);
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * UINT64_C(1099511628211);
        return h;
}

static bool daemon_smart(const Daemon *m) {
        return m->spec.pidfile != NULL;
}

static void daemon_start(Daemon *m);
static void daemons_maybe_gone(Daemons *d);

/* The pid in the pidfile, or 0 (none, unreadable, garbage). */
static pid_t pidfile_read(const char *path) {
        char buf[32];
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        char *end;
        long v = strtol(buf, &end, 10);
        if (end == buf || v <= 1 || v > INT_MAX)
                return 0;
        return (pid_t) v;
}

/* Written whole (a temporary file renamed into place): a reader never sees half. */
static int pidfile_write(const char *path, pid_t pid) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp%d", path, (int) getpid()) < 0)
                return -ENOMEM;
        FILE *f = fopen(tmp, "we");
        if (!f)
                return -errno;
        fprintf(f, "%d\n", (int) pid);
        if (fclose(f) != 0 || rename(tmp, path) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

/* A death nobody asked for: restarted after the backoff, or given up (freq), or, for a control
 * daemon, the end of the vassal. */
static int on_restart_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Daemon *m = userdata;
        (void) src;
        (void) usec;
        m->restart_timer = sd_event_source_disable_unref(m->restart_timer);
        daemon_start(m);
        return 0;
}

static void daemon_died(Daemon *m) {
        Daemons *d = m->d;
        if (d->stopping) {
                daemons_maybe_gone(d);
                return;
        }
        if (m->restart_now) {
                m->restart_now = false;
                backoff_reset(&m->backoff);
                daemon_start(m);
                return;
        }
        if (m->spec.control) {
                log_error("control daemon '%s' died: stopping the vassal", m->name);
                if (d->on_control_death)
                        d->on_control_death(m->name, d->userdata);
                return;
        }
        uint64_t lived = now_usec() - m->started_usec;
        uint64_t delay = backoff_next(&m->backoff, lived);
        if (m->spec.freq > 0 && m->backoff.failures > (unsigned) m->spec.freq) {
                m->broken = true;
                log_error("daemon '%s' died %u times in a row within a minute of its start "
                          "(freq=%" PRIi64 "): given up until a reload or a touch",
                          m->name, m->backoff.failures, m->spec.freq);
                return;
        }
        if (delay == 0) {
                log_notice("daemon '%s' restarting", m->name);
                daemon_start(m);
                return;
        }
        log_warning("daemon '%s' died after %.1f s, %u time(s) in a row within a minute of its "
                    "start: restarting in %.1f s", m->name, (double) lived / 1e6,
                    m->backoff.failures, (double) delay / 1e6);
        if (sd_event_add_time_relative(d->event, &m->restart_timer, CLOCK_MONOTONIC, delay, 0,
                                       on_restart_timer, m) < 0)
                log_error("daemon '%s': cannot arm its restart timer, not restarted", m->name);
}

static void log_exit(const char *name, pid_t pid, const siginfo_t *si) {
        if (si->si_code == CLD_EXITED)
                log_full_errno(si->si_status == 0 ? LOG_INFO : LOG_WARNING, 0,
                               "daemon '%s' (pid %d) exited with status %d", name, (int) pid,
                               si->si_status);
        else
                log_warning("daemon '%s' (pid %d) killed by signal %s%s", name, (int) pid,
                            strsignal(si->si_status),
                            si->si_code == CLD_DUMPED ? " (core dumped)" : "");
}

/* -- dumb -- */

static void on_dumb_exit(Child *c, const siginfo_t *si, void *userdata) {
        Daemon *m = userdata;
        log_exit(m->name, child_pid(c), si);
        m->child = child_free(c);
        daemon_died(m);
}

static void on_dumb_kill(Child *c, void *userdata) {
        Daemon *m = userdata;
        log_warning("daemon '%s' (pid %d) did not stop within reload-mercy: killed it", m->name,
                    (int) child_pid(c));
}

/* `cd DIR && eval COMMAND` when chdir is set: the directory and the command stay arguments,
 * never quoted into a string. */
static const char chdir_script[] = "cd -- \"$1\" || exit 127; eval \"$2\"";

static int dumb_start(Daemon *m) {
        Daemons *d = m->d;
        int pipefd[2];
        char *argv_plain[] = { (char *) "/bin/sh", (char *) "-c", m->script, NULL };
        char *argv_chdir[] = { (char *) "/bin/sh", (char *) "-c", (char *) chdir_script,
                               (char *) "sh", m->spec.chdir, m->script, NULL };

        if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        /* The writing end blocks, as a program's stdout expects. */
        (void) fcntl(pipefd[1], F_SETFL, 0);
        Credentials creds = {};
        if (d->root && (m->spec.uid || m->spec.gid)) {
                char why[256];
                int r = credentials_resolve(m->spec.uid, m->spec.gid, &creds, why, sizeof(why));
                if (r < 0) {
                        safe_close(pipefd[0]);
                        safe_close(pipefd[1]);
                        log_error("daemon '%s': %s", m->name, why);
                        return r;
                }
        }
        ChildSpec spec = {
                .path = "/bin/sh",
                .argv = m->spec.chdir ? argv_chdir : argv_plain,
                .stdin_fd = m->spec.keep_stdin ? CHILD_FD_INHERIT : CHILD_FD_NULL,
                .stdout_fd = pipefd[1],
                .stderr_fd = pipefd[1],
                /* Its own session: a stop reaches everything it forks. */
                .flags = CHILD_NEW_SESSION | CHILD_RESET_SIGNALS | CHILD_SIGNAL_GROUP,
                .pdeath_signal = SIGKILL,
                .drop = creds.set_uid || creds.set_gid,
                .uid = creds.set_uid ? creds.uid : getuid(),
                .gid = creds.set_gid ? creds.gid : getgid(),
                .on_exit = on_dumb_exit,
                .on_kill = on_dumb_kill,
                .userdata = m,
        };
        int r = child_spawn(d->event, &spec, &m->child);
        credentials_done(&creds);
        safe_close(pipefd[1]);
        if (r < 0) {
                safe_close(pipefd[0]);
                return r;
        }
        m->out = output_free(m->out);
        Output *o = calloc(1, sizeof(Output));
        if (o) {
                o->logger = d->logger;
                o->fd = pipefd[0];
                if (asprintf(&o->prefix, "[daemon %s] ", m->name) < 0 ||
                    sd_event_add_io(d->event, &o->src, o->fd, EPOLLIN, on_output, o) < 0) {
                        o->prefix = NULL;
                        o = output_free(o);
                }
        } else
                safe_close(pipefd[0]);
        if (!o)
                log_warning("daemon '%s': its output cannot be read, it goes nowhere", m->name);
        m->out = o;
        log_notice("daemon '%s' started (pid %d): %s", m->name, (int) child_pid(m->child),
                   m->spec.command);
        return 0;
}

/* -- smart -- */

static void smart_unwatch(Daemon *m) {
        m->watch = sd_event_source_disable_unref(m->watch);
        m->watched = 0;
}

static void smart_stop_waiting(Daemon *m) {
        m->waiting = false;
        /* Only off: freed from its own callback, libsystemd's inotify source can leave the
         * loop spinning on the events still queued for it (seen with systemd 252). */
        (void) sd_event_source_set_enabled(m->pidfile_watch, SD_EVENT_OFF);
        m->pidfile_timer = sd_event_source_disable_unref(m->pidfile_timer);
}

static int on_watched_exit(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Daemon *m = userdata;
        (void) src;
        (void) fd;
        (void) revents;
        log_notice("daemon '%s' (pid %d, from '%s') is gone", m->name, (int) m->watched,
                   m->spec.pidfile);
        smart_unwatch(m);
        daemon_died(m);
        return 0;
}

/* Watches pid through a pidfd: readable once it exits, whoever's child it is. */
static int smart_watch(Daemon *m, pid_t pid) {
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);
        if (pidfd < 0)
                return -errno;
        smart_unwatch(m);
        int r = sd_event_add_io(m->d->event, &m->watch, pidfd, EPOLLIN, on_watched_exit, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_io_fd_own(m->watch, true);
        TAKE_FD(pidfd);
        m->watched = pid;
        return 0;
}

/* The pidfile names a live process: watch it. */
static bool smart_check_pidfile(Daemon *m) {
        pid_t pid = pidfile_read(m->spec.pidfile);
        if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
                return false;
        if (smart_watch(m, pid) < 0)
                return false;
        if (m->waiting)
                log_notice("daemon '%s' running (pid %d, from '%s')", m->name, (int) pid,
                           m->spec.pidfile);
        smart_stop_waiting(m);
        return true;
}

static int on_pidfile_change(sd_event_source *src, const struct inotify_event *ev, void *userdata) {
        Daemon *m = userdata;
        (void) src;
        (void) ev;
        if (m->waiting)
                (void) smart_check_pidfile(m);
        return 0;
}

static int on_pidfile_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        Daemon *m = userdata;
        (void) src;
        (void) usec;
        if (!m->waiting || smart_check_pidfile(m))
                return 0;
        smart_stop_waiting(m);
        log_warning("daemon '%s': its command ended and '%s' names no running process",
                    m->name, m->spec.pidfile);
        daemon_died(m);
        return 0;
}

static Reaper *reaper_free(Reaper *r) {
        if (!r)
                return NULL;
        /* Not owned: freeing the source neither kills nor reaps. A smart daemon outlives us. */
        sd_event_source_disable_unref(r->src);
        free(r);
        return NULL;
}

static void reaper_remove(Daemons *d, Reaper *r) {
        for (size_t i = 0; i < d->n_reapers; i++)
                if (d->reapers[i] == r) {
                        d->reapers[i] = d->reapers[--d->n_reapers];
                        break;
                }
        reaper_free(r);
}

static int on_reaped(sd_event_source *src, const siginfo_t *si, void *userdata) {
        Reaper *r = userdata;
        Daemons *d = r->d;
        (void) src;
        pid_t pid = r->pid;
        reaper_remove(d, r);
        for (size_t i = 0; i < d->n; i++) {
                Daemon *m = &d->daemons[i];
                if (m->spawned != pid)
                        continue;
                m->spawned = 0;
                if (m->watched == pid) {
                        log_exit(m->name, pid, si); /* its watch tells the death */
                        break;
                }
                if (!m->waiting || d->stopping)
                        break;
                if (smart_check_pidfile(m))
                        break;
                if (si->si_code != CLD_EXITED || si->si_status != 0) {
                        log_exit(m->name, pid, si);
                        smart_stop_waiting(m);
                        daemon_died(m);
                } else if (sd_event_add_time_relative(d->event, &m->pidfile_timer,
                                                      CLOCK_MONOTONIC, PIDFILE_WAIT_USEC, 0,
                                                      on_pidfile_timeout, m) < 0)
                        (void) on_pidfile_timeout(NULL, 0, m);
                break;
        }
        return 0;
}

/* Reaps pid, a child of ours, when it exits, without ever killing it. gcc 12's -fanalyzer
 * loses the array stored in d (reached through a Daemon) and calls it leaked; daemons_free()
 * frees it. */
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static int reaper_add(Daemons *d, pid_t pid, int pidfd) {
        Reaper *r = calloc(1, sizeof(Reaper));
        if (!r) {
                safe_close(pidfd);
                return -ENOMEM;
        }
        *r = (Reaper) { .d = d, .pid = pid };
        int k = sd_event_add_child_pidfd(d->event, &r->src, pidfd, WEXITED, on_reaped, r);
        if (k < 0) {
                safe_close(pidfd);
                free(r);
                return k;
        }
        (void) sd_event_source_set_child_pidfd_own(r->src, true);
        (void) sd_event_source_set_child_process_own(r->src, false);
        Reaper **l = reallocarray(d->reapers, d->n_reapers + 1, sizeof(Reaper *));
        if (!l) {
                reaper_free(r);
                return -ENOMEM;
        }
        l[d->n_reapers++] = r;
        d->reapers = l;
        return 0;
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static int smart_start(Daemon *m) {
        Daemons *d = m->d;
        char *argv_plain[] = { (char *) "/bin/sh", (char *) "-c", m->script, NULL };
        char *argv_chdir[] = { (char *) "/bin/sh", (char *) "-c", (char *) chdir_script,
                               (char *) "sh", m->spec.chdir, m->script, NULL };

        if (smart_check_pidfile(m)) {
                log_notice("daemon '%s' already running (pid %d, from '%s')", m->name,
                           (int) m->watched, m->spec.pidfile);
                return 0;
        }
        m->waiting = true;
        Credentials creds = {};
        if (d->root && (m->spec.uid || m->spec.gid)) {
                char why[256];
                int r = credentials_resolve(m->spec.uid, m->spec.gid, &creds, why, sizeof(why));
                if (r < 0) {
                        log_error("daemon '%s': %s", m->name, why);
                        return r;
                }
        }
        ChildSpec spec = {
                .path = "/bin/sh",
                .argv = m->spec.chdir ? argv_chdir : argv_plain,
                .stdin_fd = m->spec.keep_stdin ? CHILD_FD_INHERIT : CHILD_FD_NULL,
                /* Our stderr: the log file or the journal, which outlive us as it does. */
                .stdout_fd = STDERR_FILENO,
                .stderr_fd = STDERR_FILENO,
                /* No parent-death signal: it survives us by design. */
                .flags = CHILD_NEW_SESSION | CHILD_RESET_SIGNALS,
                .drop = creds.set_uid || creds.set_gid,
                .uid = creds.set_uid ? creds.uid : getuid(),
                .gid = creds.set_gid ? creds.gid : getgid(),
        };
        pid_t pid;
        int pidfd, setup_errno;
        int r = child_fork(&spec, &pid, &pidfd, &setup_errno);
        credentials_done(&creds);
        if (r < 0)
                return r;
        if (setup_errno != 0) {
                safe_close(pidfd);
                (void) waitpid(pid, NULL, 0); /* it exits at once */
                return -setup_errno;
        }
        r = reaper_add(d, pid, pidfd);
        if (r < 0) {
                /* Nobody would reap it: it must not run. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        m->spawned = pid;
        log_notice("daemon '%s' started (pid %d): %s", m->name, (int) pid, m->spec.command);
        if (m->spec.daemonize) {
                /* smart2: the master keeps the pidfile. */
                r = pidfile_write(m->spec.pidfile, pid);
                if (r < 0)
                        log_warning_errno(r, "daemon '%s': cannot write '%s': %m", m->name,
                                          m->spec.pidfile);
                (void) smart_watch(m, pid);
                smart_stop_waiting(m);
                return 0;
        }
        /* Until the pidfile names a live process: watched for changes (no polling). */
        _cleanup_free_ char *dir = strdup(m->spec.pidfile);
        if (!dir)
                return 0;
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = 0;
        if (m->pidfile_watch)
                r = sd_event_source_set_enabled(m->pidfile_watch, SD_EVENT_ON);
        else
                r = sd_event_add_inotify(d->event, &m->pidfile_watch,
                                         slash ? (dir[0] ? dir : "/") : ".",
                                         IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE,
                                         on_pidfile_change, m);
        if (r < 0)
                log_warning_errno(r, "daemon '%s': cannot watch '%s', checking it when the "
                                  "command ends: %m", m->name, m->spec.pidfile);
        (void) smart_check_pidfile(m);
        return 0;
}

/* -- either -- */

static void daemon_start(Daemon *m) {
        if (m->d->stopping)
                return;
        m->broken = false;
        m->started_usec = now_usec();
        int r = daemon_smart(m) ? smart_start(m) : dumb_start(m);
        if (r < 0) {
                log_error_errno(r, "daemon '%s': cannot start: %m", m->name);
                daemon_died(m);
        }
}

static bool daemon_running(const Daemon *m) {
        return daemon_smart(m) ? m->watched > 0 || m->waiting : child_running(m->child);
}

static int on_touch(sd_event_source *src, const struct inotify_event *ev, void *userdata) {
        Daemon *m = userdata;
        const char *path = NULL;
        if (sd_event_source_get_description(src, &path) < 0 || !path)
                return 0;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (ev->len == 0 || !streq(ev->name, base) || m->d->stopping || !m->d->started)
                return 0;
        log_notice("daemon '%s': '%s' touched, restarting it", m->name, path);
        m->restart_timer = sd_event_source_disable_unref(m->restart_timer);
        if (!daemon_running(m)) {
                backoff_reset(&m->backoff);
                daemon_start(m);
                return 0;
        }
        m->restart_now = true;
        if (!daemon_smart(m))
                (void) child_stop(m->child, m->spec.stop_signal, m->d->mercy_usec);
        else if (m->watched > 0 && kill(m->watched, m->spec.stop_signal) < 0)
                log_warning("daemon '%s': cannot signal pid %d: %m", m->name, (int) m->watched);
        return 0;
}

static int daemon_watch_touch(Daemon *m) {
        for (char **p = m->spec.touch; p && *p; p++) {
                _cleanup_free_ char *dir = strdup(*p);
                if (!dir)
                        return -ENOMEM;
                char *slash = strrchr(dir, '/');
                if (slash)
                        *slash = 0;
                sd_event_source **l = reallocarray(m->touch, m->n_touch + 1, sizeof(*l));
                if (!l)
                        return -ENOMEM;
                m->touch = l;
                int r = sd_event_add_inotify(m->d->event, &m->touch[m->n_touch],
                                             slash ? (dir[0] ? dir : "/") : ".",
                                             IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE,
                                             on_touch, m);
                if (r < 0)
                        return log_error_errno(r, "daemon '%s': cannot watch '%s': %m", m->name,
                                               *p);
                (void) sd_event_source_set_description(m->touch[m->n_touch], *p);
                m->n_touch++;
        }
        return 0;
}

static void daemon_done(Daemon *m) {
        m->restart_timer = sd_event_source_disable_unref(m->restart_timer);
        smart_stop_waiting(m);
        m->pidfile_watch = sd_event_source_disable_unref(m->pidfile_watch);
        smart_unwatch(m);
        for (size_t i = 0; i < m->n_touch; i++)
                sd_event_source_disable_unref(m->touch[i]);
        free(m->touch);
        /* A dumb daemon still running is killed (lib/child): unwatched, nobody would. */
        child_free(m->child);
        output_free(m->out);
        daemon_spec_done(&m->spec);
        free(m->name);
        free(m->script);
}

/* A simple command (no shell operators: exec.h's rules) is run as `exec COMMAND`: the shell
 * becomes the program, so the parent-death signal and the stop signal reach the program itself
 * rather than a shell that would leave it behind. Anything else runs as written. */
static char *daemon_script(const char *command) {
        char **argv = NULL;
        const char *why;
        char *script = NULL;
        if (exec_split(command, &argv, &why) < 0)
                return strdup(command);
        exec_argv_free(argv);
        return asprintf(&script, "exec %s", command) < 0 ? NULL : script;
}

/* The first word of the command, without its directory. */
static char *daemon_name(const char *command) {
        const char *p = command + strspn(command, " \t");
        size_t n = strcspn(p, " \t");
        const char *slash = memrchr(p, '/', n);
        if (slash && (size_t) (slash - p) + 1 < n) {
                n -= (size_t) (slash - p) + 1;
                p = slash + 1;
        }
        return strndup(p, n ?: 1);
}

/* -- the previous image's children (a reload) -- */

static void on_old_exit(Child *c, const siginfo_t *si, void *userdata) {
        OldDaemon *o = userdata;
        Daemons *d = o->d;
        (void) si;
        log_info("daemon of the previous configuration (pid %d) is gone", (int) child_pid(c));
        o->child = child_free(c);
        d->n_old_alive--;
        if (d->stopping)
                daemons_maybe_gone(d);
        else if (d->n_old_alive == 0 && d->start_pending)
                daemons_start(d);
}

/* "KIND:PID,...": d (a dumb daemon, stopping: SIGKILL after the mercy) or s (a smart one's
 * command: reaped, never killed). */
static void daemons_adopt(Daemons *d) {
        const char *env = getenv(DAEMONS_ENV);
        size_t n = 0;
        for (const char *p = env; p && *p; p++)
                n += *p == ',';
        if (env && *env)
                d->old = calloc(n + 1, sizeof(OldDaemon));
        for (const char *p = env; d->old && p && *p;) {
                char kind;
                int pid, k = 0;
                if (sscanf(p, "%c:%d%n", &kind, &pid, &k) != 2)
                        break;
                p += k + (p[k] == ',');
                if (kind == 's') {
                        int pidfd = pidfd_open(pid, 0);
                        siginfo_t si = {};
                        /* Only our children are waitable; another's would never be reaped. */
                        if (pidfd >= 0 && waitid(P_PIDFD, (id_t) pidfd, &si,
                                                 WEXITED | WNOHANG | WNOWAIT) == 0)
                                (void) reaper_add(d, pid, pidfd);
                        else
                                safe_close(pidfd);
                        continue;
                }
                OldDaemon *o = &d->old[d->n_old];
                *o = (OldDaemon) { .d = d };
                ChildSpec spec = { .flags = CHILD_SIGNAL_GROUP, .on_exit = on_old_exit,
                                   .userdata = o };
                if (child_adopt(d->event, pid, &spec, &o->child) < 0)
                        continue;
                d->n_old++;
                d->n_old_alive++;
                /* The previous image sent the signal: the deadline is ours (signal 0). */
                (void) child_stop(o->child, 0, d->mercy_usec);
        }
        (void) unsetenv(DAEMONS_ENV);
}

/* -- the set -- */

static void daemons_maybe_gone(Daemons *d) {
        if (d->stopping && daemons_alive(d) == 0 && d->on_gone)
                d->on_gone(d->userdata);
}

int daemons_new(const DaemonsParams *p, Daemons **ret) {
        const VassalConfig *cfg = p->cfg;
        _cleanup_(daemons_freep) Daemons *d = calloc(1, sizeof(Daemons));
        if (!d)
                return log_oom();
        *d = (Daemons) {
                .event = sd_event_ref(p->event),
                .logger = p->logger,
                .mercy_usec = p->mercy_usec,
                .root = geteuid() == 0,
                .on_gone = p->on_gone,
                .on_control_death = p->on_control_death,
                .userdata = p->userdata,
        };
        char **lists[] = { cfg->attach_daemons, cfg->smart_daemons, cfg->smart_daemons2,
                           cfg->attach_daemons2 };
        DaemonKind kinds[] = { DAEMON_ATTACH, DAEMON_SMART, DAEMON_SMART2, DAEMON_KEYVAL };
        size_t n = 0;
        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (char **v = lists[l]; v && *v; v++)
                        n++;
        d->daemons = calloc(n ?: 1, sizeof(Daemon));
        if (!d->daemons)
                return log_oom();
        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (char **v = lists[l]; v && *v; v++) {
                        Daemon *m = &d->daemons[d->n];
                        const char *why = NULL;
                        int r = daemon_spec_parse(kinds[l], *v, &m->spec, &why);
                        if (r < 0) /* checked when the config was loaded */
                                return log_error_errno(r, "daemon '%s': expected %s", *v,
                                                       strempty(why));
                        d->n++;
                        *m = (Daemon) { .d = d, .index = d->n - 1, .spec = m->spec };
                        m->name = daemon_name(m->spec.command);
                        m->script = daemon_script(m->spec.command);
                        if (!m->name || !m->script)
                                return log_oom();
                        m->hash = hash_string(m->spec.command);
                        if (!d->root && (m->spec.uid || m->spec.gid))
                                log_warning("daemon '%s': uid/gid ignored, the master does not "
                                            "run as root", m->name);
                        r = daemon_watch_touch(m);
                        if (r < 0)
                                return r;
                }
        daemons_adopt(d);
        *ret = TAKE_PTR(d);
        return 0;
}

void daemons_start(Daemons *d) {
        if (!d || d->started || d->stopping)
                return;
        if (d->n_old_alive > 0) {
                /* The previous dumb daemons first: what they held (a port) must be free. */
                d->start_pending = true;
                return;
        }
        d->started = true;
        d->start_pending = false;
        for (size_t i = 0; i < d->n; i++)
                daemon_start(&d->daemons[i]);
}

void daemons_stop(Daemons *d, bool graceful) {
        if (!d)
                return;
        d->stopping = true;
        for (size_t i = 0; i < d->n; i++) {
                Daemon *m = &d->daemons[i];
                m->restart_timer = sd_event_source_disable_unref(m->restart_timer);
                smart_stop_waiting(m);
                if (m->child)
                        (void) child_stop(m->child, graceful ? m->spec.stop_signal : SIGKILL,
                                          d->mercy_usec);
                else if (daemon_smart(m) && m->watched > 0)
                        log_info("daemon '%s' (pid %d) left running: it is pidfile-governed",
                                 m->name, (int) m->watched);
        }
        for (size_t i = 0; i < d->n_old; i++)
                if (!graceful && d->old[i].child)
                        (void) child_signal(d->old[i].child, SIGKILL);
        daemons_maybe_gone(d);
}

size_t daemons_alive(const Daemons *d) {
        size_t n = 0;
        if (!d)
                return 0;
        for (size_t i = 0; i < d->n; i++)
                n += child_running(d->daemons[i].child);
        return n + d->n_old_alive;
}

void daemons_prepare_reload(Daemons *d) {
        if (!d)
                return;
        size_t size = (d->n + d->n_old + d->n_reapers) * 16 + 1, off = 0;
        _cleanup_free_ char *buf = malloc(size);
        if (!buf)
                return;
        buf[0] = 0;
        for (size_t i = 0; i < d->n; i++) {
                Daemon *m = &d->daemons[i];
                if (child_running(m->child)) {
                        int sig = m->spec.reload_signal ?: m->spec.stop_signal;
                        (void) child_signal(m->child, sig);
                        off += snprintf(buf + off, size - off, "%sd:%d", off ? "," : "",
                                        (int) child_pid(m->child));
                } else if (m->watched > 0 && m->spec.reload_signal > 0)
                        (void) kill(m->watched, m->spec.reload_signal);
        }
        for (size_t i = 0; i < d->n_old; i++)
                if (child_running(d->old[i].child))
                        off += snprintf(buf + off, size - off, "%sd:%d", off ? "," : "",
                                        (int) child_pid(d->old[i].child));
        for (size_t i = 0; i < d->n_reapers; i++)
                off += snprintf(buf + off, size - off, "%ss:%d", off ? "," : "",
                                (int) d->reapers[i]->pid);
        if (off > 0)
                (void) setenv(DAEMONS_ENV, buf, 1);
}

Daemons *daemons_free(Daemons *d) {
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n; i++)
                daemon_done(&d->daemons[i]);
        free(d->daemons);
        for (size_t i = 0; i < d->n_reapers; i++)
                reaper_free(d->reapers[i]);
        free(d->reapers);
        for (size_t i = 0; i < d->n_old; i++)
                child_free(d->old[i].child);
        free(d->old);
        sd_event_unref(d->event);
        free(d);
        return NULL;
}
