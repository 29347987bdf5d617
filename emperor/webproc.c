/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sysexits.h>

#include "exitcodes.h"
#include "log.h"
#include "sockutil.h"
#include "spawn.h"
#include "webproc.h"

#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC 1000000ULL
#define WEBPROC_QUICK_USEC (100 * USEC_PER_MSEC)
#define WEBPROC_BACKOFF_MIN_USEC (1 * USEC_PER_SEC)
#define WEBPROC_BACKOFF_MAX_USEC (30 * USEC_PER_SEC)

struct WebProc {
        Manager *m;
        int fd;                  /* the listener, held across emperor-web's restarts */
        char *address;
        char *program;
        char *user;              /* NULL: not root, emperor-web runs as we do */
        char *auth;
        bool insecure, verbose;
        pid_t pid;
        PidOwner owner;          /* so the orphan reaper leaves it alone */
        sd_event_source *child;
        sd_event_source *restart;
        uint64_t started;        /* CLOCK_MONOTONIC µs */
        uint64_t backoff;        /* the next delay after a quick death */
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}


static void webproc_schedule(WebProc *w, uint64_t usec);

static int on_web_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        WebProc *w = userdata;
        bool stable = now_usec() - w->started >= WEBPROC_STABLE_USEC;
        (void) s;

        if (si->si_code == CLD_EXITED)
                log_full_errno(si->si_status == 0 ? LOG_NOTICE : LOG_WARNING, 0,
                               "emperor-web (pid %d) exited with status %d", (int) si->si_pid,
                               si->si_status);
        else
                log_warning("emperor-web (pid %d) killed by signal %s", (int) si->si_pid,
                            sigabbrev_np(si->si_status) ?: "?");
        manager_pid_remove(w->m, &w->owner);
        w->child = sd_event_source_disable_unref(w->child);
        w->pid = 0;
        if (manager_stopping(w->m))
                return 0;
        if (si->si_code == CLD_EXITED && si->si_status == EX_CONFIG) {
                log_error("emperor-web refused its options: the dashboard stays off until the "
                          "emperor restarts");
                return 0;
        }
        /* The first death after a stable run restarts at once; deaths in a row back off. */
        if (stable)
                w->backoff = 0;
        uint64_t delay = w->backoff ?: WEBPROC_QUICK_USEC;
        w->backoff = w->backoff ? MIN(w->backoff * 2, WEBPROC_BACKOFF_MAX_USEC)
                                : WEBPROC_BACKOFF_MIN_USEC;
        log_info("restarting emperor-web in %.1f s", (double) delay / USEC_PER_SEC);
        webproc_schedule(w, delay);
        return 0;
}

static int webproc_spawn(WebProc *w) {
        char pid_arg[32];
        const char *argv[16];
        size_t n = 0;
        int exec_errno, r;

        snprintf(pid_arg, sizeof(pid_arg), "%d", (int) getpid());
        argv[n++] = "emperor-web";
        argv[n++] = "--run-dir";
        argv[n++] = manager_run_dir(w->m);
        argv[n++] = "--state-dir";
        argv[n++] = manager_state_dir(w->m);
        argv[n++] = "--emperor-pid";
        argv[n++] = pid_arg;
        if (w->user) {
                argv[n++] = "--user";
                argv[n++] = w->user;
        }
        if (w->auth) {
                argv[n++] = "--auth";
                argv[n++] = w->auth;
        }
        if (w->insecure)
                argv[n++] = "--insecure";
        if (manager_tyrant(w->m))
                argv[n++] = "--tyrant";
        if (w->verbose)
                argv[n++] = "--verbose";
        argv[n] = NULL;

        SpawnOptions so = {
                .path = w->program,
                .argv = (char *const *) argv,
                .fds = &w->fd,
                .n_fds = 1,
                .stdout_fd = -1,
        };
        r = spawn_process(&so, &w->pid, &exec_errno);
        if (r < 0)
                return log_error_errno(r, "Cannot start emperor-web: %m");
        w->started = now_usec();
        w->owner = (PidOwner) { .pid = w->pid };
        r = manager_pid_add(w->m, &w->owner);
        if (r >= 0)
                r = sd_event_add_child(manager_event(w->m), &w->child, w->pid, WEXITED,
                                       on_web_exit, w);
        if (r < 0) {
                /* Unwatched, nobody would reap it: stop it here, synchronously. */
                manager_pid_remove(w->m, &w->owner);
                (void) kill(w->pid, SIGKILL);
                (void) waitpid(w->pid, NULL, 0);
                w->pid = 0;
                return log_error_errno(r, "Cannot watch emperor-web: %m");
        }
        if (exec_errno != 0)
                log_error_errno(exec_errno, "Cannot run '%s': %m", w->program);
        else
                log_debug("emperor-web started (pid %d)", (int) w->pid);
        return 0;
}

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata) {
        WebProc *w = userdata;
        (void) s;
        (void) usec;
        if (webproc_spawn(w) < 0)
                webproc_schedule(w, WEBPROC_BACKOFF_MAX_USEC);
        return 0;
}

static void webproc_schedule(WebProc *w, uint64_t usec) {
        int r = 0;
        if (!w->restart)
                r = sd_event_add_time_relative(manager_event(w->m), &w->restart, CLOCK_MONOTONIC,
                                               usec, USEC_PER_MSEC, on_restart, w);
        else {
                r = sd_event_source_set_time_relative(w->restart, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(w->restart, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                log_error_errno(r, "Cannot schedule emperor-web's restart: %m");
}

int webproc_new(Manager *m, const WebProcOptions *o, WebProc **ret) {
        *ret = NULL;
        if (!o->address || !*o->address || streq(o->address, "none"))
                return 0;

        WebProc *w = calloc(1, sizeof(WebProc));
        if (!w)
                return log_oom();
        w->m = m;
        w->insecure = o->insecure;
        w->verbose = o->verbose;
        w->address = strdup(o->address);
        w->program = strdup(o->program);
        w->auth = o->auth ? realpath(o->auth, NULL) : NULL;
        if (o->auth && !w->auth) {
                int r = -errno;
                webproc_free(w);
                return log_error_errno(r, "--http-auth '%s': %m", o->auth);
        }
        if (geteuid() == 0)
                w->user = strdup(o->user ?: getpwnam("emperor") ? "emperor" : "nobody");
        if (!w->address || !w->program || (geteuid() == 0 && !w->user)) {
                webproc_free(w);
                return log_oom();
        }
        _cleanup_free_ char *unix_path = NULL;
        /* SOMAXCONN (the kernel caps it): a burst that overflows a short accept queue leaves
         * clients that think they are connected waiting for SYN-ACK retries (1, 3, 7, 15 s). */
        w->fd = socket_listen(o->address, SOMAXCONN, -1, NULL, &unix_path);
        if (w->fd < 0) {
                log_warning_errno(w->fd, "Cannot listen on '%s' for the dashboard: %m, going on "
                                  "without", o->address);
                webproc_free(w);
                return 0;
        }
        if (!w->auth && !w->insecure && !socket_is_local(w->fd)) {
                log_error("--http %s: not a loopback address, and the dashboard has actions: "
                          "give --http-auth FILE (or --http-insecure)", o->address);
                webproc_free(w);
                return -EPERM;
        }
        int r = webproc_spawn(w);
        if (r < 0) {
                webproc_free(w);
                return r;
        }
        log_info("dashboard, API and metrics on http://%s/ (emperor-web, pid %d%s%s)",
                 o->address, (int) w->pid, w->user ? ", as " : "", strempty(w->user));
        *ret = w;
        return 0;
}

WebProc *webproc_free(WebProc *w) {
        if (!w)
                return NULL;
        if (w->pid > 0) {
                manager_pid_remove(w->m, &w->owner);
                if (!w->child || sd_event_source_send_child_signal(w->child, SIGTERM, NULL, 0) < 0)
                        (void) kill(w->pid, SIGTERM);
        }
        sd_event_source_disable_unref(w->child);
        sd_event_source_disable_unref(w->restart);
        safe_close(w->fd);
        free(w->address);
        free(w->program);
        free(w->user);
        free(w->auth);
        free(w);
        return NULL;
}

pid_t webproc_pid(const WebProc *w) {
        return w ? w->pid : 0;
}
