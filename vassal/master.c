/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "cheaper.h"
#include "child.h"
#include "cputime.h"
#include "cron.h"
#include "daemon.h"
#include "daemons.h"
#include "exec.h"
#include "exitcodes.h"
#include "guard.h"
#include "janitor.h"
#include "log.h"
#include "logger.h"
#include "master.h"
#include "privileges.h"
#include "procname.h"
#include "reload.h"
#include "report.h"
#include "scoreboard.h"
#include "socket.h"
#include "statsserver.h"
#include "worker.h"
#include "wsgi.h"

/* One sd_notify datagram holds STATUS= and X_STATS=: kept under the ~64 KiB a datagram may be. */
#define STATS_MESSAGE_MAX (60 * 1024)

typedef struct Master Master;

/* A worker of the previous master (before a reload), serving until the new ones are ready. */
typedef struct OldWorker {
        Master *m;
        pid_t pid;
        Child *child; /* adopted (lib/child.h) */
} OldWorker;

typedef struct WorkerSlot {
        Master *m;
        int id;
        pid_t pid;
        Child *child; /* the running worker (lib/child.h), until its exit */
        sd_event_source *respawn_timer;
        Backoff backoff; /* its unasked deaths (lib/backoff.h) */
        unsigned crashes_serving; /* deaths with a request in hand: no backoff, counted */
        unsigned respawns;
        bool ready;
        bool restart; /* asked to exit so a fresh one takes its place */
        const char *mercy; /* the deadline child_stop() keeps: "reload-mercy", ... */
        bool parked; /* cheaper or idle stopped it: no process wanted until it is unparked */
} WorkerSlot;

struct Master {
        VassalConfig *cfg;
        ListenerSet listeners;
        sd_event *event;
        WorkerSlot *slots;
        size_t n_slots;
        Scoreboard *scoreboard; /* a slot per worker; one for the program in exec mode */
        Guard *guard;           /* harakiri, reload-on-as/rss, listen queue (guard.h) */
        StatsServer *stats;     /* `stats = ADDR` (statsserver.h) */
        ExecProgram *program;   /* exec mode: the program instead of workers */
        Reporter *reporter;     /* the emperor's stats socket (report.h); NULL: none */
        int ready_pipe[2];
        int log_pipe[2];
        Logger *logger; /* the log file and the pipe's reader (logger.h) */
        sd_event_source *stats_timer;
        sd_event_source *watchdog_timer; /* `watchdog`: WATCHDOG=1 twice a period */
        sd_event_source *autoreload_timer; /* py-autoreload */
        struct timespec autoreload_since;  /* changes after this reload (CLOCK_REALTIME) */
        CpuTime *cputime;        /* the master's and its children's CPU (cputime.h) */
        ScoreboardWindow window; /* the last stats interval: p99_rt, cpu (scoreboard.h) */
        pid_t program_pid;       /* exec mode: the program's pid as cputime knows it */
        bool notify; /* an emperor's stats socket or NOTIFY_SOCKET: X_STATS go somewhere */
        bool stopping;
        bool notified_ready;
        int exit_code;

        /* Reloads (reload.h). */
        ReloadInherit inherit;     /* what a previous master passed on */
        OldWorker *old;            /* its workers, until they finished their requests */
        size_t n_old;
        bool chain;                /* this start replaces old workers one at a time */
        size_t chain_next;         /* the next slot to start in a chain */
        bool degraded;             /* the reload could not load the app: old workers serve */
        bool reloading;            /* a config check for a reload runs */
        bool reload_chain;
        Child *check; /* the reload's `vassal --check` */
        sd_event_source **touch;   /* touch-reload and touch-chain-reload watches */
        size_t n_touch;
        const char *error; /* why we exit EX_CONFIG, for STATUS= */

        Daemons *daemons; /* attach-daemon and friends (daemons.h) */
        Cron *cron;       /* cron and friends (cron.h) */
        /* cheaper and idle (cheaper.h) */
        CheaperWorker *cheaper;        /* one per slot; NULL: neither configured */
        sd_event_source *cheaper_timer; /* every check interval, off while asleep */
        sd_event_source **wake;        /* idle: the listeners, watched while asleep */
        bool asleep;                   /* idle stopped every worker */
};

static void old_stop(OldWorker *o);
static void master_stop(Master *m, bool graceful);
static bool master_cheaper_exited(WorkerSlot *s);
static void master_cheaper_unwatch(Master *m);

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Workers (or the exec program) running. */
static size_t master_workers_alive(const Master *m) {
        size_t n = 0;
        for (size_t i = 0; i < m->n_slots; i++)
                n += m->slots[i].pid > 0;
        if (m->program && exec_program_alive(m->program))
                n++;
        return n;
}

/* What a stop waits for: the workers, and the daemons and cron jobs. */
static size_t master_alive(const Master *m) {
        return master_workers_alive(m) + daemons_alive(m->daemons) + cron_alive(m->cron);
}

static void on_worker_exit(Child *c, const siginfo_t *si, void *userdata);
static void on_worker_kill(Child *c, void *userdata);

/* In the worker (lib/child runs it after the fork, its stdout and stderr on the log pipe: only
 * the master writes the log file, so rotation never cuts a line, DESIGN.md). */
static int slot_run(void *userdata) {
        WorkerSlot *s = userdata;
        Master *m = s->m;

        safe_close(m->log_pipe[0]);
        safe_close(m->ready_pipe[0]);
        stats_server_close_in_child(m->stats);
        reporter_forget(m->reporter);
        WorkerArgs a = {
                .cfg = m->cfg,
                .listeners = &m->listeners,
                .id = s->id,
                .ready_fd = m->ready_pipe[1],
                .scoreboard = m->scoreboard,
                .slot = scoreboard_slot(m->scoreboard, s->id),
        };
        return worker_run(&a);
}

static int slot_spawn(WorkerSlot *s) {
        Master *m = s->m;
        ChildSpec spec = {
                .run = slot_run,
                .run_data = s,
                .stdin_fd = CHILD_FD_INHERIT,
                .stdout_fd = m->log_pipe[1],
                .stderr_fd = m->log_pipe[1],
                .on_exit = on_worker_exit,
                .on_kill = on_worker_kill,
                .userdata = s,
        };

        wsgi_before_fork();
        int r = child_spawn(m->event, &spec, &s->child);
        wsgi_after_fork_parent();
        if (r < 0)
                return log_error_errno(r, "Failed to fork worker %d: %m", s->id);
        pid_t pid = child_pid(s->child);
        cputime_watch(m->cputime, pid, true);

        s->pid = pid;
        s->ready = false;
        s->restart = false;
        s->mercy = NULL;
        scoreboard_slot_spawned(scoreboard_slot(m->scoreboard, s->id), pid, s->respawns);
        log_info("spawned worker %d (pid %d)", s->id, pid);
        return 0;
}

static int on_respawn(sd_event_source *src, uint64_t usec, void *userdata) {
        WorkerSlot *s = userdata;
        (void) usec;
        s->respawn_timer = sd_event_source_disable_unref(src);
        if (!s->m->stopping && s->pid == 0 && !s->parked && slot_spawn(s) < 0) {
                /* fork failed (out of memory or pids): try again in a second */
                (void) sd_event_add_time_relative(s->m->event, &s->respawn_timer,
                                                  CLOCK_MONOTONIC, 1000000, 0, on_respawn, s);
        }
        return 0;
}

static size_t master_old_alive(const Master *m) {
        size_t n = 0;
        for (size_t i = 0; i < m->n_old; i++)
                n += m->old[i].pid > 0;
        return n;
}

static void master_maybe_exit(Master *m) {
        if (m->stopping && master_alive(m) == 0 && master_old_alive(m) == 0)
                (void) sd_event_exit(m->event, m->exit_code);
}

static void slot_signal(WorkerSlot *s, int sig) {
        /* Through the pidfd: no risk of hitting a recycled pid. */
        (void) child_signal(s->child, sig);
}

/* sig now, SIGKILL once the mercy named `what` (seconds) runs out; an earlier deadline
 * stands. */
static void slot_stop(WorkerSlot *s, int sig, int64_t mercy_sec, const char *what) {
        if (!s->child)
                return;
        if (!s->mercy && sig != SIGKILL)
                s->mercy = what;
        (void) child_stop(s->child, sig, (uint64_t) mercy_sec * 1000000);
}

static void on_worker_kill(Child *c, void *userdata) {
        WorkerSlot *s = userdata;
        (void) c;
        log_warning("worker %d (pid %d) did not finish within %s, killed it", s->id, s->pid,
                    strempty(s->mercy));
}

/* An event for the emperor's store (emperor/instance.c): "X_EVENT=KIND DETAIL", one line. */
static void master_event(const char *kind, const char *fmt, ...) _printf_(2, 3);
static void master_event(const char *kind, const char *fmt, ...) {
        char detail[512];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        for (char *p = detail; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        (void) sd_notifyf(0, "X_EVENT=%s %s", kind, detail);
}

static void on_log_rotated(const char *backup, void *userdata) {
        (void) userdata;
        master_event("log-rotate", "rotated to '%s'", backup);
}

/* What the store hears of a worker's exit: a recycle or a harakiri with its reason, or a death
 * nobody asked for. Nothing for the exits of a reload or a stop. */
static void worker_exit_event(const WorkerSlot *s, const ScoreboardSlot *slot, const siginfo_t *si) {
        char how[96];

        if (si->si_code == CLD_EXITED)
                (void) snprintf(how, sizeof(how), "exited with status %d", si->si_status);
        else
                (void) snprintf(how, sizeof(how), "killed by signal %s", strsignal(si->si_status));
        if (slot && slot->exit_reason[0])
                master_event(strncmp(slot->exit_reason, "harakiri", 8) == 0 ? "harakiri" : "recycle",
                             "worker %d (pid %d) %s: %s", s->id, s->pid, how, slot->exit_reason);
        else if (!s->restart && !s->m->stopping &&
                 !(si->si_code == CLD_EXITED && si->si_status == 0))
                master_event("worker-exit", "worker %d (pid %d) %s", s->id, s->pid, how);
}

static void on_worker_exit(Child *c, const siginfo_t *si, void *userdata) {
        WorkerSlot *s = userdata;
        Master *m = s->m;
        uint64_t lived = now_usec() - child_started(c);
        const ScoreboardSlot *slot = scoreboard_slot(m->scoreboard, s->id);

        if (si->si_code == CLD_EXITED)
                log_full_errno(si->si_status == 0 ? LOG_INFO : LOG_WARNING, 0,
                               "worker %d (pid %d) exited with status %d", s->id, s->pid,
                               si->si_status);
        else
                log_warning("worker %d (pid %d) killed by signal %s%s", s->id, s->pid,
                            strsignal(si->si_status), si->si_code == CLD_DUMPED ? " (core dumped)" : "");

        worker_exit_event(s, slot, si);
        /* Deaths we asked for are no failures: a restart or reload (s->restart), max-requests
         * (exit 0), harakiri and reload-on-as/rss (their reason in the scoreboard). */
        bool asked = s->restart || (si->si_code == CLD_EXITED && si->si_status == 0) ||
                     (slot && slot->exit_reason[0]);
        /* A worker that died with a request in hand or after serving some is no startup
         * failure: a URL that crashes its worker (os._exit, a segfault in a C extension) must
         * not back the slot off until the app is offline. It is replaced at once, and
         * counted; only deaths before any request pace the respawns. */
        bool served = slot && (atomic_load(&slot->busy) > 0 ||
                               atomic_load(&slot->requests) > atomic_load(&slot->requests_at_spawn));
        /* Still a zombie: sd-event reaps it after this callback, so its CPU clock holds its
         * whole life now, and not after. */
        cputime_unwatch(m->cputime, s->pid);
        s->pid = 0;
        s->ready = false;
        s->child = child_free(c);
        scoreboard_slot_exited(scoreboard_slot(m->scoreboard, s->id));

        if (m->stopping) {
                master_maybe_exit(m);
                return;
        }
        if (m->cfg->lazy_apps && si->si_code == CLD_EXITED && si->si_status == EX_CONFIG) {
                log_error("worker %d could not load the app: stopping", s->id);
                m->exit_code = EX_CONFIG;
                m->error = scoreboard_error(m->scoreboard) ?: "a worker could not load the app";
                m->stopping = true;
                for (size_t i = 0; i < m->n_slots; i++)
                        slot_signal(&m->slots[i], SIGTERM);
                master_maybe_exit(m);
                return;
        }
        if (master_cheaper_exited(s))
                return;

        s->respawns++;
        if (served && !asked) {
                s->crashes_serving++;
                log_warning("worker %d died serving requests (%u such death%s): replaced at once",
                            s->id, s->crashes_serving, s->crashes_serving == 1 ? "" : "s");
                backoff_reset(&s->backoff);
        }
        uint64_t delay = asked || served ? 0 : backoff_next(&s->backoff, lived);
        if (delay == 0) {
                if (slot_spawn(s) < 0)
                        (void) on_respawn(NULL, 0, s);
                return;
        }
        log_warning("worker %d died after %.1f s, %u time(s) in a row within a minute of its "
                    "start: respawning in %.1f s", s->id, (double) lived / 1e6,
                    s->backoff.failures, (double) delay / 1e6);
        (void) sd_event_add_time_relative(m->event, &s->respawn_timer, CLOCK_MONOTONIC, delay, 0,
                                          on_respawn, s);
}

static int on_ready(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Master *m = userdata;
        uint32_t ids[64];
        (void) src;
        (void) revents;

        ssize_t n = read(fd, ids, sizeof(ids));
        for (ssize_t i = 0; i + (ssize_t) sizeof(uint32_t) <= n; i += sizeof(uint32_t)) {
                uint32_t id = ids[i / sizeof(uint32_t)];
                if (id < 1 || id > m->n_slots)
                        continue;
                m->slots[id - 1].ready = true;
                if (!m->chain)
                        continue;
                /* A chain: the new worker N accepts, so the old worker N goes, and the next
                 * new one starts. */
                if (id - 1 < m->n_old)
                        old_stop(&m->old[id - 1]);
                if (m->chain_next < (size_t) m->cfg->cheaper_initial &&
                    slot_spawn(&m->slots[m->chain_next++]) < 0)
                        master_stop(m, false);
        }
        /* Parked slots (cheaper) wait for no worker. */
        size_t ready = 0, wanted = 0;
        for (size_t i = 0; i < m->n_slots; i++) {
                ready += m->slots[i].ready && !m->slots[i].parked;
                wanted += !m->slots[i].parked;
        }
        if (ready == wanted)
                /* Every new worker accepts: the previous ones finish and go. */
                for (size_t i = 0; i < m->n_old; i++)
                        old_stop(&m->old[i]);
        if (!m->notified_ready && ready == wanted) {
                m->notified_ready = true;
                log_notice("ready: %zu worker(s) x %lld %s", wanted,
                           (long long) (m->cfg->gevent ?: m->cfg->threads),
                           m->cfg->gevent ? "greenlet(s)" : "thread(s)");
                (void) sd_notifyf(0, "READY=1\nSTATUS=%zu workers ready\nMAINPID=%d", wanted,
                                  (int) getpid());
                daemon_ready();
                daemons_start(m->daemons);
                cron_start(m->cron);
        }
        return 0;
}

/* Writes all the workers logged so far, a partial last line included (logger.h), to the log:
 * before an exit or an exec. */
static void log_drain(Master *m) {
        logger_flush(m->logger);
}

static void master_stop(Master *m, bool graceful) {
        if (m->stopping && graceful)
                return;
        m->stopping = true;
        master_cheaper_unwatch(m);
        /* The port closes as soon as the workers are done (they hold the sockets too): a
         * removed vassal refuses new connections while its last requests finish. */
        listeners_close(&m->listeners, true);
        (void) sd_notify(0, "STOPPING=1");
        if (m->program)
                log_notice("%s stop", graceful ? "graceful" : "immediate");
        else
                log_notice("%s stop: %zu worker(s) running", graceful ? "graceful" : "immediate",
                           master_workers_alive(m));
        for (size_t i = 0; i < m->n_old; i++) {
                if (graceful)
                        old_stop(&m->old[i]);
                else
                        (void) child_signal(m->old[i].child, SIGKILL);
        }
        /* Each worker finishes its requests within reload-mercy (or the earlier deadline of a
         * restart under way), then is killed. */
        for (size_t i = 0; i < m->n_slots; i++) {
                m->slots[i].respawn_timer = sd_event_source_disable_unref(m->slots[i].respawn_timer);
                slot_stop(&m->slots[i], graceful ? SIGTERM : SIGKILL, m->cfg->reload_mercy,
                          "reload-mercy");
        }
        if (m->program)
                exec_program_stop(m->program, graceful); /* it keeps its own deadline */
        daemons_stop(m->daemons, graceful);
        cron_stop(m->cron, graceful);
        master_maybe_exit(m);
}

/* Every worker finishes its requests and a fresh one replaces it. */
static void master_restart_workers(Master *m) {
        (void) sd_notify(0, "RELOADING=1");
        if (m->program) {
                log_notice("restarting program '%s'", exec_program_name(m->program));
                exec_program_restart(m->program);
                m->notified_ready = false;
                return;
        }
        log_notice("restarting %zu worker(s)", master_workers_alive(m));
        for (size_t i = 0; i < m->n_slots; i++) {
                WorkerSlot *s = &m->slots[i];
                if (s->pid <= 0 || s->parked)
                        continue;
                s->restart = true;
                slot_stop(s, SIGTERM, m->cfg->worker_reload_mercy, "worker-reload-mercy");
        }
        m->notified_ready = false;
}

/* ---- reloads (reload.h) ---- */

static void on_old_kill(Child *c, void *userdata) {
        OldWorker *o = userdata;
        (void) c;
        log_warning("previous worker (pid %d) still busy after worker-reload-mercy, killed it",
                    o->pid);
}

/* A previous worker finishes its requests and exits, within worker-reload-mercy. */
static void old_stop(OldWorker *o) {
        if (!o->child || child_stopping(o->child))
                return;
        (void) child_stop(o->child, SIGTERM, (uint64_t) o->m->cfg->worker_reload_mercy * 1000000);
}

static void on_old_exit(Child *c, const siginfo_t *si, void *userdata) {
        OldWorker *o = userdata;
        Master *m = o->m;

        log_info("previous worker (pid %d) %s", o->pid,
                 si->si_code == CLD_EXITED ? "finished" : "was killed");
        o->child = child_free(c);
        cputime_unwatch(m->cputime, o->pid);
        o->pid = 0;
        if (m->degraded && master_old_alive(m) == 0 && !m->stopping) {
                log_error("every previous worker is gone and the new code does not load: "
                          "exiting");
                m->exit_code = EX_CONFIG;
                m->stopping = true;
        }
        master_maybe_exit(m);
}

/* The workers of the master we replaced are our children still (children survive exec). */
static void master_adopt_old(Master *m) {
        if (m->inherit.n_old == 0)
                return;
        m->old = calloc(m->inherit.n_old, sizeof(OldWorker));
        if (!m->old)
                return;
        m->n_old = m->inherit.n_old;
        for (size_t i = 0; i < m->n_old; i++) {
                OldWorker *o = &m->old[i];
                o->m = m;
                if (m->inherit.old_pids[i] <= 0)
                        continue;
                ChildSpec spec = { .on_exit = on_old_exit, .on_kill = on_old_kill, .userdata = o };
                if (child_adopt(m->event, m->inherit.old_pids[i], &spec, &o->child) < 0)
                        continue; /* gone already */
                o->pid = m->inherit.old_pids[i];
                /* what it used before the reload was the previous image's */
                cputime_watch(m->cputime, o->pid, false);
        }
        log_info("reloaded: %zu previous worker(s) serve until the new ones accept",
                 master_old_alive(m));
}

/* After the check passed: hand everything to a fresh image of ourselves. */
_Noreturn static void master_exec_reload(Master *m, bool chain) {
        size_t n = m->n_slots + m->n_old, k = 0;
        pid_t *pids = calloc(n ? n : 1, sizeof(pid_t));

        (void) sd_notify(0, "RELOADING=1");
        log_notice("%s reload: re-executing '%s'", chain ? "chain" : "graceful", reload_exe());
        log_drain(m);
        /* In worker-id order first (a chain replaces worker N by the new worker N), then the
         * previous generation's stragglers. */
        for (size_t i = 0; pids && i < m->n_slots; i++)
                pids[k++] = m->slots[i].pid;
        for (size_t i = 0; pids && i < m->n_old; i++)
                if (m->old[i].pid > 0)
                        pids[k++] = m->old[i].pid;
        daemons_prepare_reload(m->daemons);
        cron_prepare_reload(m->cron);
        int r = reload_exec(&m->listeners, m->log_pipe, pids, k, chain);
        log_error_errno(r, "reload: cannot re-execute '%s': %m", reload_exe());
        _exit(EXIT_RUNTIME);
}

static int on_reload_exec(sd_event_source *src, void *userdata) {
        Master *m = userdata;
        (void) src;
        if (!m->stopping)
                master_exec_reload(m, m->reload_chain);
        return 0;
}

static void on_reload_check(Child *c, const siginfo_t *si, void *userdata) {
        Master *m = userdata;
        cputime_unwatch(m->cputime, child_pid(c));
        m->check = child_free(c);
        m->reloading = false;
        if (m->stopping)
                return;
        if (si->si_code != CLD_EXITED || si->si_status != 0) {
                log_error("reload refused: the configuration does not pass the check (see "
                          "above); the running workers keep serving");
                /* For the supervisor: `emperorctl chain-reload --wait` ends on it. */
                (void) sd_notify(0, "STATUS=reload refused: the configuration does not pass "
                                    "the check; the running workers keep serving");
                return;
        }
        /* Not from here: sd-event reaps the check only after this callback returns, and an
         * exec now would leave it a zombie of the new image. */
        if (sd_event_add_defer(m->event, NULL, on_reload_exec, m) < 0)
                log_error("reload: cannot schedule the re-exec");
}

/* A reload starts with `vassal --check` of the same command line, so a broken ini never takes
 * the running app down; the check's output goes to the log. */
static void master_reload(Master *m, bool chain) {
        char *const *argv = reload_argv();
        size_t n = 0;

        if (m->stopping || m->reloading || !argv)
                return;
        while (argv[n])
                n++;
        char **args = calloc(n + 2, sizeof(char *));
        if (!args) {
                log_oom();
                return;
        }
        args[0] = argv[0];
        args[1] = (char *) "--check";
        for (size_t i = 1; i < n; i++)
                args[i + 1] = argv[i];

        log_notice("%s reload requested: checking the configuration", chain ? "chain" : "graceful");
        ChildSpec spec = {
                .path = reload_exe(),
                .argv = args,
                .stdin_fd = CHILD_FD_INHERIT,
                .stdout_fd = m->log_pipe[1],
                .stderr_fd = m->log_pipe[1],
                .flags = CHILD_RESET_SIGNALS,
                .on_exit = on_reload_check,
                .userdata = m,
        };
        int r = child_spawn(m->event, &spec, &m->check);
        free(args);
        if (r < 0) {
                log_error_errno(r, "reload: cannot run '%s --check': %m", reload_exe());
                return;
        }
        cputime_watch(m->cputime, child_pid(m->check), true);
        m->reloading = true;
        m->reload_chain = chain;
}

static int on_touch(sd_event_source *src, const struct inotify_event *ev, void *userdata) {
        Master *m = userdata;
        const char *name = NULL;
        (void) src;
        /* Which file of which list: the source's description holds "reload:PATH" or
         * "chain:PATH". */
        if (sd_event_source_get_description(src, &name) < 0 || !name)
                return 0;
        const char *path = strchr(name, ':') + 1, *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (ev->len == 0 || !streq(ev->name, base))
                return 0;
        log_notice("'%s' touched", path);
        master_reload(m, strncmp(name, "chain:", 6) == 0);
        return 0;
}

static int master_watch_touch(Master *m) {
        char **lists[] = { m->cfg->touch_reload, m->cfg->touch_chain_reload };
        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (char **p = lists[l]; p && *p; p++) {
                        _cleanup_free_ char *dir = strdup(*p), *desc = NULL;
                        if (!dir || asprintf(&desc, "%s:%s", l ? "chain" : "reload", *p) < 0)
                                return log_oom();
                        char *slash = strrchr(dir, '/');
                        if (slash)
                                *slash = 0;
                        sd_event_source **t = reallocarray(m->touch, m->n_touch + 1, sizeof(*t));
                        if (!t)
                                return log_oom();
                        m->touch = t;
                        int r = sd_event_add_inotify(m->event, &m->touch[m->n_touch],
                                                     slash ? (dir[0] ? dir : "/") : ".",
                                                     IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO |
                                                             IN_CREATE,
                                                     on_touch, m);
                        if (r < 0)
                                return log_error_errno(r, "Cannot watch '%s': %m", *p);
                        (void) sd_event_source_set_description(m->touch[m->n_touch], desc);
                        m->n_touch++;
                }
        return 0;
}

static int on_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata) {
        Master *m = userdata;
        (void) src;

        switch (si->ssi_signo) {
        case SIGTERM:
        case SIGINT:
                master_stop(m, true);
                break;
        case SIGQUIT:
                master_stop(m, false);
                break;
        case SIGHUP:
        case SIGUSR2:
                if (m->stopping)
                        break;
                logger_on_reload(m->logger); /* log-reopen */
                /* A program in exec mode is restarted; workers get the app anew (reload.h). */
                if (m->program)
                        master_restart_workers(m);
                else
                        master_reload(m, si->ssi_signo == SIGUSR2);
                break;
        case SIGUSR1:
                (void) logger_reopen(m->logger, "SIGUSR1");
                break;
        }
        return 0;
}

void master_set_title(const VassalConfig *cfg, int worker_id, const char *fallback) {
        ProcnameOptions o = {
                .enabled = cfg->auto_procname || cfg->procname || cfg->procname_master ||
                           cfg->procname_prefix || cfg->procname_prefix_spaced ||
                           cfg->procname_append,
                .name = cfg->name,
                .procname = cfg->procname,
                .master = cfg->procname_master,
                .prefix = cfg->procname_prefix,
                .prefix_spaced = cfg->procname_prefix_spaced,
                .append = cfg->procname_append,
        };
        bool custom = o.procname || o.master || o.prefix || o.prefix_spaced || o.append;
        char title[256], comm[64];

        /* comm holds 15 bytes: the automatic one leaves "vassal " out ("hello worker 2"). */
        if (worker_id == 0)
                snprintf(comm, sizeof(comm), "%s master", strempty(cfg->name));
        else
                snprintf(comm, sizeof(comm), "%s", strempty(fallback));
        if (procname_format(&o, worker_id, title, sizeof(title)))
                procname_set(title, custom || !comm[0] ? NULL : comm);
        else if (fallback)
                (void) prctl(PR_SET_NAME, fallback, 0, 0, 0);
}

void master_notify_error(const char *message) {
        if (!message || !*message)
                return;
        /* One line: a newline would start another sd_notify assignment. */
        (void) sd_notifyf(0, "STATUS=%.*s", (int) strcspn(message, "\r\n"), message);
}

/* ---- guards and the stats server (guard.h, statsserver.h) ---- */

static void on_guard_signal(void *userdata, int id, int sig) {
        Master *m = userdata;
        if (id >= 1 && (size_t) id <= m->n_slots)
                slot_signal(&m->slots[id - 1], sig);
}

/* reload-on-as/rss: the worker finishes its requests and exits; on_worker_exit respawns it. */
static void on_guard_recycle(void *userdata, int id) {
        Master *m = userdata;
        if (id < 1 || (size_t) id > m->n_slots || m->stopping)
                return;
        WorkerSlot *s = &m->slots[id - 1];
        if (s->pid <= 0 || s->restart)
                return;
        s->restart = true;
        slot_stop(s, SIGTERM, m->cfg->worker_reload_mercy, "worker-reload-mercy");
}

static int master_start_guards(Master *m) {
        GuardParams p = {
                .event = m->event,
                .cfg = m->cfg,
                .scoreboard = m->scoreboard,
                .listeners = &m->listeners,
                .workers = !m->cfg->exec,
                .ops = { .signal = on_guard_signal, .recycle = on_guard_recycle, .userdata = m },
        };
        int r = guard_new(&p, &m->guard);
        if (r >= 0 && m->stats)
                r = stats_server_start(m->stats, m->event, m->scoreboard, &m->listeners,
                                       m->guard, &m->window, m->cfg->log_path);
        return r;
}

/* STATUS= and X_STATS= (DESIGN.md: the same object as a stats server's) in one datagram. */
static void master_send_stats(Master *m) {
        char status[256];

        if (m->program) {
                ScoreboardSlot *slot = scoreboard_slot(m->scoreboard, 1);
                pid_t pid = exec_program_pid(m->program);
                if (pid == 0)
                        scoreboard_slot_exited(slot);
                unsigned restarts = exec_program_restarts(m->program);
                int k = pid > 0 ? snprintf(status, sizeof(status), "program '%s' running (pid %d)",
                                           exec_program_name(m->program), (int) pid)
                                : snprintf(status, sizeof(status), "program '%s' not running",
                                           exec_program_name(m->program));
                if (k > 0 && (size_t) k < sizeof(status))
                        (void) snprintf(status + k, sizeof(status) - k, ", %u restart%s", restarts,
                                        restarts == 1 ? "" : "s");
        } else
                scoreboard_status(m->scoreboard, status, sizeof(status));
        size_t max = STATS_MESSAGE_MAX - sizeof(status) - 32;
        if (!m->reporter) {
                _cleanup_free_ char *json = stats_json(m->scoreboard, &m->listeners, m->guard,
                                                       &m->window, m->cfg->log_path, false, max);
                if (!json)
                        log_warning("Failed to build the stats (out of memory), sending STATUS only");
                (void) sd_notifyf(0, "STATUS=%s%s%s", status, json ? "\nX_STATS=" : "",
                                  strempty(json));
                return;
        }

        /* To the emperor: the stats without the interval's measures first; when the emperor
         * holds those already, the measures alone go (report.h). */
        _cleanup_free_ char *held = stats_json(m->scoreboard, &m->listeners, m->guard, NULL,
                                               m->cfg->log_path, false, max);
        _cleanup_free_ char *msg = NULL;
        int n;
        if (reporter_holds(m->reporter, held)) {
                _cleanup_free_ char *measures = scoreboard_window_json(&m->window);
                n = measures ? asprintf(&msg, "STATUS=%s\nX_STATS_SAME=%s", status, measures) : -1;
                if (n >= 0 && reporter_send_brief(m->reporter, msg, (size_t) n))
                        return;
                msg = mfree(msg);
        }
        _cleanup_free_ char *json = stats_json(m->scoreboard, &m->listeners, m->guard, &m->window,
                                               m->cfg->log_path, false, max);
        if (!json)
                log_warning("Failed to build the stats (out of memory), sending STATUS only");
        n = asprintf(&msg, "STATUS=%s%s%s", status, json ? "\nX_STATS=" : "", strempty(json));
        if (n >= 0)
                (void) reporter_send(m->reporter, msg, (size_t) n, json ? held : NULL);
        else
                msg = NULL;
}

/* `watchdog = N`: the loop is alive as long as this runs (a master stopped, or stuck in a
 * call, misses it and its supervisor kills it). */
static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Master *m = userdata;
        uint64_t half = (uint64_t) m->cfg->watchdog * 500000;
        (void) sd_notify(0, "WATCHDOG=1");
        int r = sd_event_source_set_time(s, usec + half);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return r;
}

/* py-autoreload: a module's source newer than our start (or the last reload asked) reloads,
 * as uWSGI's does. The modules are the master's, the app's imports with it (without
 * lazy-apps); a change that fails its reload is not asked again until the next one. */
static int on_autoreload_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Master *m = userdata;
        char path[PATH_MAX];

        if (!m->reloading && !m->stopping &&
            wsgi_module_changed(&m->autoreload_since, path, sizeof(path))) {
                log_notice("py-autoreload: '%s' changed, reloading", path);
                (void) clock_gettime(CLOCK_REALTIME, &m->autoreload_since);
                master_reload(m, false);
        }
        int r = sd_event_source_set_time(s, usec + (uint64_t) m->cfg->py_autoreload * 1000000);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return r;
}

/* Each stats interval: what the interval measured (the p99 of its requests, the CPU it used),
 * for X_STATS and the stats server alike. */
static int on_stats_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Master *m = userdata;
        scoreboard_window_advance(&m->window, m->scoreboard, now_usec(),
                                  cputime_total(m->cputime));
        if (m->notify)
                master_send_stats(m);
        int r = sd_event_source_set_time(s, usec + (uint64_t) m->cfg->stats_interval * 1000000);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return r;
}

static void on_program_event(ExecProgram *p, ExecEvent event, void *userdata) {
        Master *m = userdata;
        ScoreboardSlot *slot = scoreboard_slot(m->scoreboard, 1);
        pid_t pid = exec_program_pid(p);

        /* Only the program's own process: what it forks is not ours to see. */
        pid_t running = event == EXEC_EVENT_STARTED ? pid : 0;
        if (m->program_pid != running) {
                cputime_unwatch(m->cputime, m->program_pid);
                m->program_pid = running;
                cputime_watch(m->cputime, running, true);
        }
        switch (event) {
        case EXEC_EVENT_STARTED:
                scoreboard_slot_spawned(slot, pid, exec_program_restarts(p));
                if (m->notified_ready) {
                        (void) sd_notifyf(0, "STATUS=program '%s' running (pid %d)",
                                          exec_program_name(p), (int) pid);
                        break;
                }
                /* The sockets listen since before the fork: a client connecting now waits in
                 * the queue until the program accepts. */
                m->notified_ready = true;
                log_notice("ready: program '%s' (pid %d)", exec_program_name(p), (int) pid);
                (void) sd_notifyf(0, "READY=1\nSTATUS=program '%s' running (pid %d)\nMAINPID=%d",
                                  exec_program_name(p), (int) pid, (int) getpid());
                daemon_ready();
                daemons_start(m->daemons);
                cron_start(m->cron);
                break;
        case EXEC_EVENT_FAILED:
                scoreboard_slot_exited(slot);
                (void) sd_notifyf(0, "STATUS=Failed to execute '%s', retrying",
                                  exec_program_name(p));
                break;
        case EXEC_EVENT_GONE:
                scoreboard_slot_exited(slot);
                master_maybe_exit(m);
                break;
        }
}

/* ---- cheaper and idle (cheaper.h): the adaptive worker count ---- */

static ScoreboardSlot *slot_scoreboard(const WorkerSlot *s) {
        return scoreboard_slot(s->m->scoreboard, s->id);
}

static uint64_t slot_requests(const WorkerSlot *s) {
        return atomic_load(&slot_scoreboard(s)->requests);
}

/* No process wanted in the slot: the stats show it "cheap" once its process is gone. */
static void slot_park(WorkerSlot *s) {
        Master *m = s->m;
        s->parked = true;
        s->respawn_timer = sd_event_source_disable_unref(s->respawn_timer);
        scoreboard_slot_set_cheap(slot_scoreboard(s), true);
        if (m->cheaper)
                cheaper_reset(&m->cheaper[s->id - 1], false, slot_requests(s), now_usec());
}

static int slot_unpark(WorkerSlot *s) {
        Master *m = s->m;
        s->parked = false;
        scoreboard_slot_set_cheap(slot_scoreboard(s), false);
        if (m->cheaper)
                cheaper_reset(&m->cheaper[s->id - 1], true, slot_requests(s), now_usec());
        return slot_spawn(s);
}

/* Parks the slot and stops its worker gracefully: its requests in flight finish (within
 * worker-reload-mercy), and on_worker_exit does not replace it. */
static void slot_retire(WorkerSlot *s) {
        slot_park(s);
        if (!s->child)
                return;
        s->restart = true; /* asked to exit: no failure, no event */
        slot_stop(s, SIGTERM, s->m->cfg->worker_reload_mercy, "worker-reload-mercy");
}

/* Spawns up to k parked slots whose process is gone; returns how many. */
static size_t master_cheaper_spawn(Master *m, size_t k) {
        size_t n = 0;
        for (size_t i = 0; i < m->n_slots && n < k; i++) {
                WorkerSlot *s = &m->slots[i];
                if (!s->parked || s->pid > 0)
                        continue;
                if (slot_unpark(s) < 0)
                        (void) on_respawn(NULL, 0, s); /* fork failed: retried in a second */
                n++;
        }
        return n;
}

/* A worker exited: true when its slot is parked (it was retired) and stays empty. */
static bool master_cheaper_exited(WorkerSlot *s) {
        if (!s->parked)
                return false;
        log_info("worker %d retired", s->id);
        return true;
}

/* µs between checks: cheaper-overload; with idle alone, half the idle time. */
static uint64_t cheaper_period(const VassalConfig *cfg) {
        uint64_t period = cfg->cheaper > 0 ? (uint64_t) cfg->cheaper_overload * 1000000 : UINT64_MAX;
        if (cfg->idle > 0)
                period = MIN(period, MAX((uint64_t) cfg->idle * 500000, (uint64_t) 100000));
        return period;
}

static void cheaper_timer_arm(Master *m) {
        int r = sd_event_source_set_time_relative(m->cheaper_timer, cheaper_period(m->cfg));
        if (r >= 0)
                r = sd_event_source_set_enabled(m->cheaper_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "cheaper: cannot arm the check timer: %m, ignoring");
}

static int on_wake(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Master *m = userdata;
        (void) src;
        (void) fd;
        (void) revents;

        /* The connection stays queued until a spawned worker accepts it. */
        master_cheaper_unwatch(m);
        m->asleep = false;
        if (m->stopping)
                return 0;
        size_t n = master_cheaper_spawn(m, (size_t) m->cfg->cheaper_initial);
        log_notice("idle: a client connected, spawning %zu worker(s)", n);
        cheaper_timer_arm(m);
        return 0;
}

/* `idle`: every worker stops; the master watches the listening sockets for the next client. */
static void master_sleep(Master *m) {
        if (m->cfg->die_on_idle) {
                log_notice("idle for %lld s: exiting (die-on-idle)", (long long) m->cfg->idle);
                master_stop(m, true);
                return;
        }
        log_notice("idle for %lld s: stopping %zu worker(s) until a client connects",
                   (long long) m->cfg->idle, master_alive(m));
        for (size_t i = 0; i < m->n_slots; i++)
                if (!m->slots[i].parked)
                        slot_retire(&m->slots[i]);
        for (size_t i = 0; i < m->listeners.n; i++) {
                int r = sd_event_add_io(m->event, &m->wake[i], m->listeners.items[i].fd, EPOLLIN,
                                        on_wake, m);
                if (r < 0) {
                        /* Unwatched, the socket would never wake us: wake now instead. */
                        log_error_errno(r, "idle: cannot watch '%s': %m, waking up",
                                        m->listeners.items[i].address);
                        m->asleep = true;
                        (void) on_wake(NULL, -1, 0, m);
                        return;
                }
        }
        m->asleep = true;
        (void) sd_event_source_set_enabled(m->cheaper_timer, SD_EVENT_OFF);
}

/* Every check interval: sample the scoreboard, do what cheaper_decide() says. */
static int on_cheaper_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Master *m = userdata;
        uint64_t now = now_usec();
        (void) usec;
        (void) src;

        /* During a reload the next image decides. */
        if (m->stopping)
                return 0;
        cheaper_timer_arm(m);
        if (m->reloading || m->asleep || m->degraded || !m->slots)
                return 0;
        for (size_t i = 0; i < m->n_slots; i++) {
                WorkerSlot *s = &m->slots[i];
                if (!s->parked)
                        cheaper_observe(&m->cheaper[i],
                                        s->pid > 0 && atomic_load(&slot_scoreboard(s)->busy) > 0,
                                        slot_requests(s), now);
        }
        CheaperParams p = {
                .min = m->cfg->cheaper > 0 ? (size_t) m->cfg->cheaper : m->n_slots,
                .max = m->n_slots,
                .step = (size_t) m->cfg->cheaper_step,
                .interval = (uint64_t) m->cfg->cheaper_overload * 1000000,
                .idle = (uint64_t) m->cfg->idle * 1000000,
        };
        CheaperAction a = cheaper_decide(&p, m->cheaper, m->n_slots, now);
        switch (a.verdict) {
        case CHEAPER_SPAWN:
                log_notice("cheaper: every worker busy, spawning %zu more",
                           master_cheaper_spawn(m, a.count));
                break;
        case CHEAPER_RETIRE:
                log_notice("cheaper: worker %d idle for %.0f s, retiring it", m->slots[a.index].id,
                           (double) (now - m->cheaper[a.index].idle_since) / 1e6);
                slot_retire(&m->slots[a.index]);
                break;
        case CHEAPER_SLEEP:
                master_sleep(m);
                break;
        default:
                break;
        }
        return 0;
}

/* cheaper or idle configured: a per-slot record and the check timer. */
static int master_start_cheaper(Master *m) {
        const VassalConfig *cfg = m->cfg;
        if (cfg->cheaper == 0 && cfg->idle == 0)
                return 0;
        m->cheaper = calloc((size_t) cfg->processes, sizeof(CheaperWorker));
        m->wake = calloc(MAX(m->listeners.n, (size_t) 1), sizeof(sd_event_source *));
        if (!m->cheaper || !m->wake)
                return -ENOMEM;
        /* Every slot wanted until master_start_workers() parks those past cheaper-initial. */
        for (size_t i = 0; i < (size_t) cfg->processes; i++)
                cheaper_reset(&m->cheaper[i], true, 0, now_usec());
        return sd_event_add_time_relative(m->event, &m->cheaper_timer, CLOCK_MONOTONIC,
                                          cheaper_period(cfg), 0, on_cheaper_timer, m);
}

/* Before the listeners close: no watch left on their fds. */
static void master_cheaper_unwatch(Master *m) {
        for (size_t i = 0; m->wake && i < m->listeners.n; i++)
                m->wake[i] = sd_event_source_disable_unref(m->wake[i]);
}

static void master_cheaper_free(Master *m) {
        master_cheaper_unwatch(m);
        free(m->wake);
        sd_event_source_disable_unref(m->cheaper_timer);
        free(m->cheaper);
}

/* exec mode: the program takes the workers' place. */
static int master_start_program(Master *m) {
        ExecParams params = {
                .event = m->event,
                .command = m->cfg->exec,
                .listeners = &m->listeners,
                .log_fd = m->log_pipe[1],
                .mercy_usec = (uint64_t) m->cfg->reload_mercy * 1000000,
                .on_event = on_program_event,
                .userdata = m,
        };
        int r = exec_program_new(&params, &m->program);
        if (r < 0)
                return r;
        /* A failed start is logged and retried by the program's own backoff. */
        (void) exec_program_start(m->program);
        return 0;
}

static int master_start_workers(Master *m) {
        m->n_slots = m->cfg->processes;
        m->slots = calloc(m->n_slots, sizeof(WorkerSlot));
        if (!m->slots)
                return log_oom();
        for (size_t i = 0; i < m->n_slots; i++)
                m->slots[i] = (WorkerSlot) { .m = m, .id = (int) i + 1 };
        /* cheaper: the slots past cheaper-initial start parked. */
        size_t initial = MIN(m->n_slots, (size_t) m->cfg->cheaper_initial);
        for (size_t i = initial; i < m->n_slots; i++)
                slot_park(&m->slots[i]);
        /* A chain reload starts one worker; each that gets ready starts the next (on_ready). */
        size_t first = m->chain ? MIN(initial, (size_t) 1) : initial;
        m->chain_next = first;
        for (size_t i = 0; i < first; i++)
                if (slot_spawn(&m->slots[i]) < 0) {
                        master_stop(m, false);
                        break;
                }
        return 0;
}

/* A stop's last daemon or cron job went. */
static void on_extras_gone(void *userdata) {
        master_maybe_exit(userdata);
}

/* attach-daemon2's control=1: its death is the vassal's (uWSGI). */
static void on_control_death(const char *name, void *userdata) {
        Master *m = userdata;
        master_event("daemon-exit", "control daemon '%s' died", name);
        m->exit_code = EXIT_RUNTIME;
        master_stop(m, true);
}

/* The daemons and cron jobs of the ini (daemons.h, cron.h); they start once the workers are
 * ready. */
static int master_new_extras(Master *m) {
        DaemonsParams dp = {
                .event = m->event,
                .cfg = m->cfg,
                .logger = m->logger,
                .mercy_usec = (uint64_t) m->cfg->reload_mercy * 1000000,
                .on_gone = on_extras_gone,
                .on_control_death = on_control_death,
                .userdata = m,
        };
        CronParams cp = {
                .event = m->event,
                .cfg = m->cfg,
                .log_fd = m->log_pipe[1],
                .mercy_usec = (uint64_t) m->cfg->reload_mercy * 1000000,
                .on_gone = on_extras_gone,
                .userdata = m,
        };
        int r = daemons_new(&dp, &m->daemons);
        return r < 0 ? r : cron_new(&cp, &m->cron);
}

int master_run(VassalConfig *cfg) {
        Master m = {
                .cfg = cfg,
                .ready_pipe = { -1, -1 },
                .log_pipe = { -1, -1 },
        };
        int r, code = EXIT_RUNTIME;
        uint64_t start_usec = now_usec();

        /* py-autoreload: what changes from now on (the app is imported below). */
        (void) clock_gettime(CLOCK_REALTIME, &m.autoreload_since);
        /* From the start: the app's import is CPU this vassal used too. */
        r = cputime_new(&m.cputime);
        if (r < 0) {
                log_oom();
                return EXIT_RUNTIME;
        }
        r = reload_inherit(&m.inherit);
        if (r < 0)
                return EXIT_RUNTIME;
        master_set_title(cfg, 0, NULL);
        m.chain = m.inherit.chain;

        r = logger_new(cfg, true, &m.logger);
        if (r >= 0)
                logger_on_rotate(m.logger, on_log_rotated, NULL);
        if (r < 0)
                return EXIT_RUNTIME;
        /* As uWSGI says it at start: an app running as root owns the machine if it is broken
         * into. (Said by the running master only: --check and the emperor's status stay
         * about the configuration.) */
        if (geteuid() == 0 && !cfg->uid)
                log_warning("running as root (no 'uid'): the app may do anything on this "
                            "machine; set uid = USER (and gid) to drop root");

        r = listeners_open(&m.listeners, cfg);
        if (r < 0)
                goto finish;
        /* The stats socket too is bound before privileges are dropped. */
        if (cfg->stats && stats_server_new(cfg->stats, cfg->stats_http, &m.stats) < 0) {
                code = EX_CONFIG;
                m.error = "cannot bind the stats socket";
                goto finish;
        }

        /* Root binds and opens; the app (or the program) runs as the configured user. What
         * root made and the user cannot remove, a process that keeps root removes at exit. */
        if (!m.inherit.active)
                (void) janitor_start(cfg, &m.listeners);
        r = privileges_drop(cfg->uid, cfg->gid);
        if (r < 0) {
                code = r == -EINVAL ? EX_CONFIG : EXIT_RUNTIME;
                m.error = privileges_error();
                goto finish;
        }

        if (!cfg->exec && !cfg->lazy_apps) {
                r = wsgi_init(cfg);
                if (r >= 0)
                        r = wsgi_load_app(cfg);
                if (r < 0 && m.inherit.active) {
                        /* A reload with code that does not import: the previous workers
                         * still run the old code, and keep serving. */
                        log_error("reload failed: the app does not load; the previous workers "
                                  "keep serving until the next reload");
                        m.degraded = true;
                        (void) sd_notifyf(0, "STATUS=reload failed: %s",
                                          strempty(wsgi_error()));
                } else if (r < 0 && !cfg->need_app && wsgi_initialized()) {
                        log_warning("no app loaded (need-app = false): serving 500s");
                } else if (r < 0) {
                        code = EX_CONFIG;
                        m.error = wsgi_error();
                        goto finish;
                }
        }

        /* Before any fork: every worker inherits it. */
        r = scoreboard_new(cfg->exec ? 1 : (size_t) cfg->processes,
                           cfg->exec ? 0 : (size_t) (cfg->gevent ?: cfg->threads),
                           &m.scoreboard);
        if (r < 0) {
                log_error_errno(r, "Failed to map the scoreboard: %m");
                goto finish;
        }
        long n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
        scoreboard_window_init(&m.window, m.scoreboard, start_usec, 0,
                               n_cpus > 0 ? (unsigned) n_cpus : 1);

        /* After a reload the log pipe is the previous master's: its workers write there. */
        if (m.inherit.log_pipe[0] >= 0) {
                m.log_pipe[0] = m.inherit.log_pipe[0];
                m.log_pipe[1] = m.inherit.log_pipe[1];
        } else if (pipe2(m.log_pipe, O_CLOEXEC) < 0) {
                log_error_errno(errno, "pipe: %m");
                goto finish;
        }
        if (pipe2(m.ready_pipe, O_CLOEXEC) < 0) {
                log_error_errno(errno, "pipe: %m");
                goto finish;
        }
        (void) fcntl(m.ready_pipe[0], F_SETFL, O_NONBLOCK);
        (void) fcntl(m.log_pipe[0], F_SETFL, O_NONBLOCK);

        r = sd_event_new(&m.event);
        if (r < 0) {
                log_error_errno(r, "sd_event_new: %m");
                goto finish;
        }
        int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 };
        for (size_t i = 0; i < ELEMENTSOF(sigs) && r >= 0; i++)
                r = sd_event_add_signal(m.event, NULL, sigs[i], on_signal, &m);
        if (r >= 0)
                r = sd_event_add_io(m.event, NULL, m.ready_pipe[0], EPOLLIN, on_ready, &m);
        if (r >= 0)
                r = logger_attach(m.logger, m.event, m.log_pipe[0]);
        /* X_STATS only for a supervisor that listens: without NOTIFY_SOCKET they go nowhere.
         * The interval's measures are for the stats server too. */
        if (r >= 0)
                r = reporter_new_from_env(&m.reporter);
        m.notify = m.reporter || getenv("NOTIFY_SOCKET") != NULL;
        if (r >= 0 && cfg->stats_interval > 0 && (m.notify || m.stats))
                r = sd_event_add_time_relative(m.event, &m.stats_timer, CLOCK_MONOTONIC,
                                               (uint64_t) cfg->stats_interval * 1000000, 0,
                                               on_stats_timer, &m);
        if (r >= 0 && cfg->watchdog > 0 && getenv("NOTIFY_SOCKET")) {
                (void) sd_notifyf(0, "WATCHDOG_USEC=%llu\nWATCHDOG=1",
                                  (unsigned long long) cfg->watchdog * 1000000ULL);
                r = sd_event_add_time_relative(m.event, &m.watchdog_timer, CLOCK_MONOTONIC,
                                               (uint64_t) cfg->watchdog * 500000, 0,
                                               on_watchdog_timer, &m);
        }
        if (r >= 0)
                r = master_start_guards(&m);
        if (r >= 0 && !cfg->exec)
                r = master_start_cheaper(&m);
        if (r >= 0 && !cfg->exec && cfg->py_autoreload > 0)
                r = sd_event_add_time_relative(m.event, &m.autoreload_timer, CLOCK_MONOTONIC,
                                               (uint64_t) cfg->py_autoreload * 1000000, 0,
                                               on_autoreload_timer, &m);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the event loop: %m");
                goto finish;
        }

        master_adopt_old(&m);
        r = master_new_extras(&m);
        if (r >= 0)
                r = master_watch_touch(&m);
        if (r < 0)
                goto finish;
        if (m.degraded) {
                r = master_old_alive(&m) > 0 ? 0 : -ESRCH;
                /* No new worker will get ready: the old ones serve, the daemons run. */
                daemons_start(m.daemons);
                cron_start(m.cron);
        }
        else
                r = cfg->exec ? master_start_program(&m) : master_start_workers(&m);
        if (r < 0) {
                code = m.degraded ? EX_CONFIG : EXIT_RUNTIME;
                goto finish;
        }

        r = sd_event_loop(m.event);
        code = r < 0 ? EXIT_RUNTIME : r;
        log_drain(&m);
        log_notice("stopped");

finish:
        if (code == EX_CONFIG)
                master_notify_error(m.error);
        for (size_t i = 0; m.slots && i < m.n_slots; i++) {
                WorkerSlot *s = &m.slots[i];
                child_free(s->child);
                sd_event_source_disable_unref(s->respawn_timer);
        }
        free(m.slots);
        master_cheaper_free(&m);
        for (size_t i = 0; i < m.n_old; i++)
                child_free(m.old[i].child);
        free(m.old);
        for (size_t i = 0; i < m.n_touch; i++)
                sd_event_source_disable_unref(m.touch[i]);
        free(m.touch);
        child_free(m.check);
        daemons_free(m.daemons);
        cron_free(m.cron);
        reload_inherit_done(&m.inherit);
        exec_program_free(m.program);
        sd_event_source_disable_unref(m.stats_timer);
        sd_event_source_disable_unref(m.watchdog_timer);
        sd_event_source_disable_unref(m.autoreload_timer);
        stats_server_free(m.stats);
        reporter_free(m.reporter);
        guard_free(m.guard);
        logger_free(m.logger);
        sd_event_unref(m.event);
        scoreboard_free(m.scoreboard);
        cputime_free(m.cputime);
        safe_close(m.ready_pipe[0]);
        safe_close(m.ready_pipe[1]);
        safe_close(m.log_pipe[0]);
        safe_close(m.log_pipe[1]);
        listeners_close(&m.listeners, true);
        return code;
}
