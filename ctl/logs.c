/* SPDX-License-Identifier: MIT */
/* emperorctl logs APP [-n N] [-f]: the last lines of a vassal's log file, then with -f what is
 * appended to it, across rotations, until interrupted.
 *
 * The file is the one the running vassal says it writes (its stats' "log", which the
 * emperor's status shows): absolute, after its chdir and interpolation. While it is not
 * running, or the emperor is down (the ini's path then comes from the stats store), the
 * path comes from the ini, read through lib/vini.h as the vassal reads it; a path relative
 * to where the vassal was started is refused then, not guessed. The file itself is read
 * directly: nothing of the log passes through the emperor.
 *
 * Output goes to fd 1 with write(2), unbuffered: each batch is on its way when the call
 * returns, and a closed pipe shows up as EPIPE (SIGPIPE is ignored), which ends the command
 * with status 0, as the end of `| head` should. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <sqlite3.h>

#include "ctl.h"
#include "jsonutil.h"
#include "logfollow.h"
#include "logs.h"
#include "query.h"
#include "macro.h"

#define LOGFOLLOW_BLOCK (64u * 1024)
#define LOGS_DEFAULT_LINES 10
#define LOGS_USAGE "usage: emperorctl logs APP [-n N] [-f]"

/* Set by SIGINT/SIGTERM while following. A write blocked on a full pipe returns EINTR then
 * (no SA_RESTART), and out_write gives up instead of retrying. */
static volatile sig_atomic_t logs_stop;

int logs_parse_count(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!s || !s[0])
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                unsigned d = (unsigned) (*p - '0');
                if (*p < '0' || *p > '9' || v > (UINT64_MAX - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

/* ---- finding the ini ---- */

static inline void sqlite3_closep(sqlite3 **db) {
        (void) sqlite3_close(*db);
}

/* The emperor is down: the ini the stats store last saw for app, read-only. Returns the
 * exit status, an error printed. */
static int ini_from_store(const char *app, char **ret) {
        _cleanup_free_ char *db = ctl_db_path();
        _cleanup_(sqlite3_closep) sqlite3 *conn = NULL;
        char err[512];
        int r;

        if (!db)
                return ctl_err(CTL_EXIT_FAILED, "out of memory");
        if (query_open(db, &conn, err, sizeof(err)) < 0)
                return ctl_err(CTL_EXIT_NOT_RUNNING,
                               "the emperor is not running, and the stats store cannot tell where "
                               "vassal '%s' logs: %s (try --state-dir or --db)", app, err);
        r = query_vassal_ini(conn, app, ret);
        switch (r) {
        case 0:
                return CTL_EXIT_OK;
        case -ENOENT:
                return ctl_err(CTL_EXIT_NO_SUCH_VASSAL,
                               "no vassal named '%s' (the emperor is not running, and the stats "
                               "store '%s' has none)", app, db);
        case -ENODATA:
                return ctl_err(CTL_EXIT_FAILED, "the stats store '%s' has no ini for vassal '%s'",
                               db, app);
        case -ENOMEM:
                return ctl_err(CTL_EXIT_FAILED, "out of memory");
        default:
                return ctl_err(CTL_EXIT_FAILED, "cannot read the stats store '%s': %s", db,
                               sqlite3_errmsg(conn));
        }
}

/* app's object in a status reply: "vassal", or its entry in "vassals". */
static const cJSON *reply_vassal(const cJSON *reply, const char *app) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(reply, "vassal");
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(reply, "vassals");

        if (cJSON_IsObject(v))
                return v;
        if (!cJSON_IsArray(list))
                return NULL;
        cJSON_ArrayForEach(v, list) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
                if (cJSON_IsObject(v) && cJSON_IsString(name) && streq(name->valuestring, app))
                        return v;
        }
        return NULL;
}

/* The ini of app, the log its running vassal reported (NULL: none), and whether it runs.
 * Returns the exit status, an error printed. */
static int find_vassal(const char *app, char **ret_ini, char **ret_log, bool *ret_running) {
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        const cJSON *v, *ini, *pid, *log;
        int r;

        *ret_ini = *ret_log = NULL;
        *ret_running = false;
        ctl_quiet_not_running = true;
        r = ctl_request("status", app, false, false, &reply);
        ctl_quiet_not_running = false;
        if (r == CTL_EXIT_NOT_RUNNING)
                return ini_from_store(app, ret_ini);
        if (r != CTL_EXIT_OK)
                return r;
        v = reply_vassal(reply, app);
        ini = cJSON_GetObjectItemCaseSensitive(v, "ini");
        if (!cJSON_IsString(ini) || !ini->valuestring[0])
                return ctl_err(CTL_EXIT_FAILED,
                               "malformed reply from the emperor: no ini for vassal '%s'", app);
        pid = cJSON_GetObjectItemCaseSensitive(v, "pid");
        *ret_running = cJSON_IsNumber(pid) && pid->valuedouble >= 1;
        /* The vassal's stats say where it logs (lib/vstats.h): absolute, or "" for stderr. */
        log = cJSON_GetObjectItemCaseSensitive(v, "log");
        *ret_ini = strdup(ini->valuestring);
        if (!*ret_ini)
                return ctl_err(CTL_EXIT_FAILED, "out of memory");
        if (*ret_running && cJSON_IsString(log) &&
            (!log->valuestring[0] || log->valuestring[0] == '/')) {
                *ret_log = strdup(log->valuestring);
                if (!*ret_log)
                        return ctl_err(CTL_EXIT_FAILED, "out of memory");
        }
        return CTL_EXIT_OK;
}

/* ---- following ---- */

/* The follower's writer: all of it to fd 1. EINTR is a stop signal while following, else
 * retried. */
static int out_write(const char *buf, size_t n, void *userdata) {
        (void) userdata;
        while (n > 0) {
                ssize_t k = write(STDOUT_FILENO, buf, n);
                if (k < 0 && errno == EINTR && !logs_stop)
                        continue;
                if (k < 0)
                        return -errno;
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

static int logs_stop_pipe[2] = { -1, -1 };

static void on_stop_signal(int sig) {
        int saved = errno;
        ssize_t k;

        logs_stop = sig;
        k = write(logs_stop_pipe[1], "", 1); /* wakes the poll; a full pipe is awake already */
        (void) k;
        errno = saved;
}

/* Prints what is appended to the log until a signal or a closed output (the follower's
 * watch says when to look: logfollow.h). */
static int follow(LogFollow *f, int inotify_fd, const char *path) {
        struct stat st;
        struct pollfd p[3] = {
                { .fd = inotify_fd, .events = POLLIN },
                { .fd = logs_stop_pipe[0], .events = POLLIN },
                /* No events asked: a pipe whose reader is gone reports POLLERR, a hung-up
                 * terminal POLLHUP. Our output may see no write for hours. */
                { .fd = fstat(STDOUT_FILENO, &st) >= 0 ? STDOUT_FILENO : -1, .events = 0 },
        };
        bool step = true;

        for (;;) {
                if (step) {
                        int r = logfollow_step(f);
                        if (logs_stop || r == -EPIPE)
                                return CTL_EXIT_OK;
                        if (r < 0)
                                return ctl_err(CTL_EXIT_FAILED, "cannot follow '%s': %s", path,
                                               strerror(-r));
                        step = false;
                }
                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return ctl_err(CTL_EXIT_FAILED, "cannot wait for the log: %m");
                }
                if (logs_stop || p[1].revents)
                        return CTL_EXIT_OK;
                if (p[2].revents & (POLLERR | POLLHUP))
                        return CTL_EXIT_OK;
                if (p[0].revents) {
                        int r = logfollow_events(f);
                        if (r == -ENOENT)
                                return ctl_err(CTL_EXIT_FAILED,
                                               "the directory of '%s' was removed or moved", path);
                        if (r < 0)
                                return ctl_err(CTL_EXIT_FAILED, "cannot read inotify events: %s",
                                               strerror(-r));
                        step = r > 0;
                }
        }
}

static int setup_signals(bool following) {
        struct sigaction sa = { .sa_handler = on_stop_signal };

        /* A closed output is EPIPE from write(): the end, quietly. */
        (void) signal(SIGPIPE, SIG_IGN);
        if (!following)
                return 0;
        if (pipe2(logs_stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        /* No SA_RESTART: a write blocked on a slow reader returns EINTR to see the flag. */
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
                return -errno;
        return 0;
}

int ctl_cmd_logs(const CtlInvocation *inv) {
        _cleanup_(logfollow_freep) LogFollow *f = NULL;
        _cleanup_(logfollow_source_done) LogFollowSource src = {};
        _cleanup_free_ char *ini = NULL, *reported = NULL;
        _cleanup_free_ char *load_error = NULL;
        int inotify_fd = -1;
        uint64_t n = LOGS_DEFAULT_LINES;
        bool following = ctl_args.follow;
        bool running;
        int r;

        if (ctl_args.json)
                return ctl_err(CTL_EXIT_USAGE, "'logs' does not take --json: the log is text (%s)",
                               LOGS_USAGE);
        if (ctl_args.lines && logs_parse_count(ctl_args.lines, &n) < 0)
                return ctl_err(CTL_EXIT_USAGE, "-n: '%s' is not a number of lines (%s)",
                               ctl_args.lines, LOGS_USAGE);

        r = find_vassal(inv->app, &ini, &reported, &running);
        if (r != CTL_EXIT_OK)
                return r;
        /* The emperor gives each vassal EMPEROR_VASSAL: an ini may name its log after it. */
        if (setenv("EMPEROR_VASSAL", inv->app, 1) < 0)
                return ctl_err(CTL_EXIT_FAILED, "out of memory");
        r = logfollow_source_load(ini, reported, &src, &load_error);
        /* The vassal warns about its own config; we only say why we cannot read it. */
        if (load_error)
                fprintf(stderr, "emperorctl: %s\n", load_error);
        if (r == -ENOMEM)
                return ctl_err(CTL_EXIT_FAILED, "out of memory");
        if (r == -EADDRNOTAVAIL)
                return ctl_err(CTL_EXIT_FAILED,
                               "vassal '%s' %s, and its log '%s' is relative to the directory it "
                               "was started in, which only the running vassal can say: start "
                               "it, or give logto (or chdir) an absolute path", inv->app,
                               running ? "has not reported where it logs yet"
                                       : "is not running",
                               src.path);
        if (r < 0)
                return ctl_err(CTL_EXIT_FAILED, "cannot find the log of vassal '%s': its ini "
                               "'%s' does not load", inv->app, ini);
        if (!src.path)
                return ctl_err(CTL_EXIT_FAILED,
                               "vassal '%s' has no logto: it logs to the emperor's stderr "
                               "(journalctl -u emperor)", inv->app);

        r = logfollow_new(src.path, src.backupname, out_write, NULL, &f);
        if (r < 0)
                return ctl_err(CTL_EXIT_FAILED, "out of memory");
        r = setup_signals(following);
        if (r < 0)
                return ctl_err(CTL_EXIT_FAILED, "cannot set up signals: %s", strerror(-r));
        if (following) {
                /* Watched before the file is opened, so nothing created after is missed. */
                inotify_fd = logfollow_watch(f);
                if (inotify_fd < 0) {
                        _cleanup_free_ char *dir = NULL;
                        const char *slash = strrchr(src.path, '/');
                        dir = slash ? strndup(src.path, slash == src.path ? 1
                                                                         : (size_t) (slash - src.path))
                                    : NULL;
                        return ctl_err(CTL_EXIT_FAILED, "cannot watch '%s' for the log of vassal "
                                       "'%s': %s", strempty(dir), inv->app, strerror(-inotify_fd));
                }
        }

        r = logfollow_open(f, n);
        if (r == -EPIPE || (r == -EINTR && logs_stop))
                return CTL_EXIT_OK;
        if (r < 0)
                return ctl_err(CTL_EXIT_FAILED, "cannot read '%s', the log of vassal '%s': %s",
                               src.path, inv->app, strerror(-r));
        if (r == 0 && !following)
                return ctl_err(CTL_EXIT_FAILED, "vassal '%s' logs to '%s', which does not "
                               "exist (yet)", inv->app, src.path);
        if (r == 0)
                fprintf(stderr, "emperorctl: '%s' does not exist yet, waiting for it\n",
                        src.path);
        if (!following)
                return CTL_EXIT_OK;
        return follow(f, inotify_fd, src.path);
}
