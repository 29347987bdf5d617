/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"
#include "exec.h"
#include "log.h"
#include "sockutil.h"
#include "users.h"
#include "vkeys.h"

#define F(field) offsetof(VassalConfig, field)

/* uWSGI's thread-stacksize is KiB when it is a bare number; with a suffix it is a size. */
static int parse_stacksize(const ConfOption *opt, const char *value, void *field,
                           const char **ret_expected) {
        uint64_t v;
        (void) opt;
        if (conf_parse_size(value, &v) < 0 || v > (UINT64_C(1) << 40)) {
                *ret_expected = "a size such as 512 (KiB), 256k or 1M";
                return -EINVAL;
        }
        if (value[strspn(value, "0123456789")] == 0)
                v *= 1024;
        *(uint64_t *) field = v;
        return 0;
}

/* exec: kept as written, but split once here so a bad command is "file:line: exec: expected
 * ..." at load time (and in --check), not a surprise at run time. */
static int parse_command(const ConfOption *opt, const char *value, void *field,
                         const char **ret_expected) {
        char **argv = NULL;
        (void) opt;
        int r = exec_split(value, &argv, ret_expected);
        if (r < 0)
                return r;
        exec_argv_free(argv);
        char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        free(*(char **) field);
        *(char **) field = copy;
        return 0;
}
#define NOT_YET "not implemented yet, ignored"

/* cheaper-algo: uWSGI's default, spare, is the one we have; the others are refused rather than
 * silently replaced by it. */
static int parse_cheaper_algo(const ConfOption *opt, const char *value, void *field,
                              const char **ret_expected) {
        (void) opt;
        (void) field;
        if (streq(value, "spare"))
                return 0;
        *ret_expected = "'spare', the only cheaper algorithm implemented (uWSGI's 'backlog', "
                        "'busyness', 'spare2' and 'manual' are not)";
        return -EINVAL;
}

/* Every key a vassal understands. Aliases are separate rows pointing at the same field, as in
 * uWSGI. The modules other programs read too (sockets, credentials, stop, logging, workdir)
 * come from lib/vkeys.h, so the emperor and emperorctl read them exactly as we do. Keys that only make sense in uWSGI (we are always a master, always Python, always
 * threaded) are CONF_IGNORED so configs that carry them load without noise. */
static const ConfOption vassal_options[] = {
        { "processes", CONF_INT, F(processes), 1, 1024, NULL, "worker processes" },
        { "workers", CONF_INT, F(processes), 1, 1024, NULL, "alias of processes" },
        { "threads", CONF_INT, F(threads), 1, 10000, NULL, "threads per worker" },
        { "thread-stacksize", CONF_CUSTOM, F(thread_stacksize), 0, 0, parse_stacksize,
          "stack size of each worker thread (a bare number is KiB, as in uWSGI)" },
        { "threads-stacksize", CONF_CUSTOM, F(thread_stacksize), 0, 0, parse_stacksize, "alias" },
        { "thread-stack-size", CONF_CUSTOM, F(thread_stacksize), 0, 0, parse_stacksize, "alias" },
        { "threads-stack-size", CONF_CUSTOM, F(thread_stacksize), 0, 0, parse_stacksize, "alias" },
        { "gevent", CONF_INT, F(gevent), 0, 100000, NULL,
          "serve up to N connections at once per worker in gevent greenlets (0: threads)" },
        { "gevent-monkey-patch", CONF_BOOL, F(gevent_monkey_patch), 0, 0, NULL,
          "gevent.monkey.patch_all() in each worker, after the app is loaded" },
        { "gevent-early-monkey-patch", CONF_BOOL, F(gevent_early_monkey_patch), 0, 0, NULL,
          "gevent.monkey.patch_all() before the app is imported" },
        { "lazy-apps", CONF_BOOL, F(lazy_apps), 0, 0, NULL, "load the app in each worker" },
        VKEYS_STOP_OPTIONS(VassalConfig),
        { "touch-reload", CONF_STRV, F(touch_reload), 0, 0, NULL,
          "reload gracefully when this file is touched (repeatable)" },
        { "touch-chain-reload", CONF_STRV, F(touch_chain_reload), 0, 0, NULL,
          "chain-reload (one worker at a time) when this file is touched" },
        { "max-requests", CONF_INT, F(max_requests), 0, INT64_MAX, NULL,
          "replace a worker after this many requests (0: never)" },

        VKEYS_SOCKET_OPTIONS(VassalConfig),
        { "buffer-size", CONF_SIZE, F(buffer_size), 1024, 1048576, NULL,
          "largest request head in bytes (431 past it)" },
        { "post-buffering", CONF_SIZE, F(post_buffering), 0, 0, NULL,
          "read request bodies before the app runs; past this size into a temp file" },
        { "limit-post", CONF_SIZE, F(limit_post), 0, 0, NULL, "largest request body (413)" },
        { "socket-timeout", CONF_INT, F(socket_timeout), 1, 3600, NULL,
          "seconds a client may stall mid-request (408)" },
        { "http-timeout", CONF_INT, F(socket_timeout), 1, 3600, NULL, "alias of socket-timeout" },
        { "keepalive-timeout", CONF_INT, F(keepalive_timeout), 1, 3600, NULL,
          "seconds an idle keep-alive connection is kept open" },
        { "header-timeout", CONF_INT, F(header_timeout), 1, 3600, NULL,
          "seconds the whole request head may take to arrive (408)" },
        { "body-timeout", CONF_INT, F(body_timeout), 1, 86400, NULL,
          "seconds a request body may take, plus one per body-min-rate bytes received (408)" },
        { "body-min-rate", CONF_SIZE, F(body_min_rate), 0, 0, NULL,
          "bytes per second a request body must average past body-timeout; 0: no limit" },

        { "switch-interval", CONF_INT, F(switch_interval), 0, 1000, NULL,
          "milliseconds between GIL hand-offs (sys.setswitchinterval); 0: from threads" },
        { "gc-freeze", CONF_BOOL, F(gc_freeze), 0, 0, NULL,
          "move what the app made at import out of the garbage collector's way (default true)" },
        { "module", CONF_STRING, F(module), 0, 0, NULL, "WSGI module, pkg.mod[:callable]" },
        { "wsgi", CONF_STRING, F(module), 0, 0, NULL, "same as module" },
        { "wsgi-file", CONF_STRING, F(wsgi_file), 0, 0, NULL, "load the app from this file" },
        { "file", CONF_STRING, F(wsgi_file), 0, 0, NULL, "same as wsgi-file" },
        { "callable", CONF_STRING, F(callable), 0, 0, NULL, "name of the WSGI callable" },
        VKEYS_WORKDIR_OPTIONS(VassalConfig),
        { "pythonpath", CONF_STRV, F(pythonpath), 0, 0, NULL, "add to sys.path" },
        { "python-path", CONF_STRV, F(pythonpath), 0, 0, NULL, "same as pythonpath" },
        { "pp", CONF_STRV, F(pythonpath), 0, 0, NULL, "same as pythonpath" },
        { "virtualenv", CONF_STRING, F(virtualenv), 0, 0, NULL, "the app's virtualenv" },
        { "venv", CONF_STRING, F(virtualenv), 0, 0, NULL, "same as virtualenv" },
        { "home", CONF_STRING, F(virtualenv), 0, 0, NULL, "same as virtualenv" },
        { "pyhome", CONF_STRING, F(virtualenv), 0, 0, NULL, "same as virtualenv" },
        { "env", CONF_STRV, F(env), 0, 0, NULL, "set KEY=VALUE in the environment" },

        VKEYS_LOGGING_OPTIONS(VassalConfig),
        { "pidfile", CONF_STRING, F(pidfile), 0, 0, NULL, "write the master's pid to this file" },
        { "vacuum", CONF_BOOL, F(vacuum), 0, 0, NULL, "remove the pidfile on exit" },

        { "exec", CONF_CUSTOM, F(exec), 0, 0, parse_command,
          "supervise this command instead of a WSGI app, handing it the sockets (LISTEN_FDS)" },
        VKEYS_CREDENTIALS_OPTIONS(VassalConfig),
        { "stats-interval", CONF_INT, F(stats_interval), 0, 86400, NULL,
          "seconds between X_STATS= messages to NOTIFY_SOCKET (0: none; default 1)" },
        { "watchdog", CONF_INT, F(watchdog), 0, 86400, NULL,
          "seconds: the master pings its supervisor (WATCHDOG=1) twice per period from its event "
          "loop, and tells it the period (WATCHDOG_USEC=); a master that misses it is killed and "
          "restarted (0: off, the default)" },
        { "stats", CONF_STRING, F(stats), 0, 0, NULL,
          "serve the stats JSON on ADDR (127.0.0.1:9191 or a unix path), for uwsgitop" },
        { "stats-server", CONF_STRING, F(stats), 0, 0, NULL, "same as stats" },
        { "stats-http", CONF_BOOL, F(stats_http), 0, 0, NULL,
          "the stats server speaks HTTP (a JSON response) instead of raw JSON" },
        { "harakiri", CONF_INT, F(harakiri), 0, 86400, NULL,
          "kill a worker whose request runs longer than this many seconds (0: never)" },
        { "harakiri-verbose", CONF_BOOL, F(harakiri_verbose), 0, 0, NULL,
          "log the stuck worker's requests and Python stacks before killing it" },
        { "max-requests-delta", CONF_INT, F(max_requests_delta), 0, INT32_MAX, NULL,
          "worker N recycles after max-requests + (N - 1) * this requests" },
        { "reload-on-as", CONF_INT, F(reload_on_as), 0, INT32_MAX, NULL,
          "replace a worker whose address space exceeds this many MB" },
        { "reload-on-rss", CONF_INT, F(reload_on_rss), 0, INT32_MAX, NULL,
          "replace a worker whose resident memory exceeds this many MB" },
        { "memory-report", CONF_BOOL, F(memory_report), 0, 0, NULL,
          "add the worker's address space and rss to each request log line" },

        /* Adaptive worker count (cheaper.c): uWSGI's cheaper subsystem, algorithm "spare". */
        { "cheaper", CONF_INT, F(cheaper), 0, 1023, NULL,
          "keep at least this many workers running and spawn more, up to processes, while every "
          "one is busy; idle ones are stopped again (0: always processes; must be below "
          "processes)" },
        { "cheaper-initial", CONF_INT, F(cheaper_initial), 0, 1024, NULL,
          "workers started at start with cheaper (default: cheaper; at most processes)" },
        { "cheaper-step", CONF_INT, F(cheaper_step), 1, 1024, NULL,
          "workers spawned at once when cheaper finds every worker busy" },
        { "cheaper-overload", CONF_INT, F(cheaper_overload), 1, 3600, NULL,
          "seconds between cheaper's checks: a worker idle that long may be stopped" },
        { "cheaper-algo", CONF_CUSTOM, 0, 0, 0, parse_cheaper_algo,
          "the cheaper algorithm: only 'spare' (the default) is implemented" },
        { "idle", CONF_INT, F(idle), 0, 86400, NULL,
          "after this many seconds without a request stop every worker and wake on the next "
          "connection, which waits in the queue for the spawned worker (0: never)" },
        { "die-on-idle", CONF_BOOL, F(die_on_idle), 0, 0, NULL,
          "with idle: the master exits (status 0) instead of waiting for a connection" },

        /* Accepted for compatibility: what they ask for is how we always work. The flags are
         * parsed as booleans (into a field nobody reads) so `--master app.ini` keeps app.ini
         * as the ini and a bad value is still reported. */
        { "master", CONF_BOOL, F(compat_flag), 0, 0, NULL, NULL },
        { "enable-threads", CONF_BOOL, F(compat_flag), 0, 0, NULL, NULL },
        { "plugins", CONF_IGNORED, 0, 0, 0, NULL, NULL },
        { "plugin", CONF_IGNORED, 0, 0, 0, NULL, NULL },
        { "die-on-term", CONF_BOOL, F(compat_flag), 0, 0, NULL, NULL },
        { "strict", CONF_BOOL, F(compat_flag), 0, 0, NULL, NULL },
        { "need-app", CONF_BOOL, F(compat_flag), 0, 0, NULL, NULL },
        { "single-interpreter", CONF_BOOL, F(compat_flag), 0, 0, NULL, NULL },
        { "thunder-lock", CONF_BOOL, F(compat_flag), 0, 0, NULL, NULL },
        { "http-keepalive", CONF_BOOL, F(compat_flag), 0, 0, NULL, NULL },
        { "auto-procname", CONF_BOOL, F(compat_flag), 0, 0, NULL, NULL },
        { "procname-prefix", CONF_IGNORED, 0, 0, 0, NULL, NULL },
        { "procname-prefix-spaced", CONF_IGNORED, 0, 0, 0, NULL, NULL },
        { "py-call-osafterfork", CONF_BOOL, F(compat_flag), 0, 0, NULL, NULL },
};

/* The first error reported, for STATUS= when the vassal exits EX_CONFIG. */
static char first_error[512];

_printf_(1, 2) static void remember_error(const char *fmt, ...) {
        va_list ap;
        if (first_error[0])
                return;
        va_start(ap, fmt);
        (void) vsnprintf(first_error, sizeof(first_error), fmt, ap);
        va_end(ap);
}

const char *vassal_config_error(void) {
        return first_error[0] ? first_error : NULL;
}

/* Reports a problem load or verify found beyond the option table, as "where: message". */
_printf_(2, 3) static void config_error(const char *where, const char *fmt, ...) {
        char message[400];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        fprintf(stderr, "%s: %s\n", where, message);
        remember_error("%s: %s", where, message);
}

void vassal_config_init(VassalConfig *c) {
        *c = (VassalConfig) {
                VKEYS_SOCKET_DEFAULTS,
                VKEYS_STOP_DEFAULTS,
                .processes = 1,
                .cheaper_step = 1,
                .cheaper_overload = 3,
                .threads = 1,
                .thread_stacksize = 0,
                .buffer_size = 8192,
                .socket_timeout = 4,
                .keepalive_timeout = 30,
                .gc_freeze = true,
                .header_timeout = 10,
                .body_timeout = 10,
                .body_min_rate = 1024,
                .stats_interval = -1, /* unset: see vassal_config_load() */
        };
        first_error[0] = 0;
}

void vassal_config_done(VassalConfig *c) {
        free(c->exec); /* CONF_CUSTOM: conf_free() does not know it is a string */
        c->exec = NULL;
        conf_free(vassal_options, ELEMENTSOF(vassal_options), c);
        free(c->ini_path);
        free(c->name);
        free(c->gevent_origin);
        free(c->log_path);
        *c = (VassalConfig) {};
}

static void on_diag(void *userdata, IniLevel level, const char *file, unsigned line,
                    const char *message) {
        (void) userdata;
        if (level == INI_ERROR) {
                if (line > 0)
                        remember_error("%s:%u: %s", file, line, message);
                else
                        remember_error("%s: %s", file, message);
        }
        if (line > 0)
                fprintf(stderr, "%s:%u: %s%s\n", file, line,
                        level == INI_ERROR ? "" : "warning: ", message);
        else
                fprintf(stderr, "%s: %s%s\n", file, level == INI_ERROR ? "" : "warning: ",
                        message);
}

static char *name_from_path(const char *path) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t n = strlen(base);
        if (n > 4 && streq(base + n - 4, ".ini"))
                n -= 4;
        return strndup(base, n);
}

/* Where key was set last: its file and line (line 0: the command line). False when unset. */
static bool key_origin(const Ini *ini, const char *key, const char **ret_file,
                       unsigned *ret_line) {
        for (size_t i = ini_size(ini); i > 0; i--) {
                const IniEntry *e = ini_entry(ini, i - 1);
                if (streq(e->key, key)) {
                        *ret_file = e->file;
                        *ret_line = e->line;
                        return true;
                }
        }
        return false;
}

/* An error about key, reported where it was set ("file:line: key: ..."). */
_printf_(3, 4) static void key_error(const Ini *ini, const char *key, const char *fmt, ...) {
        const char *file = ini_path(ini) ?: "command line";
        unsigned line = 0;
        char message[400];
        va_list ap;
        int n;

        (void) key_origin(ini, key, &file, &line);
        n = snprintf(message, sizeof(message), "%s: ", key);
        va_start(ap, fmt);
        (void) vsnprintf(message + n, sizeof(message) - n, fmt, ap);
        va_end(ap);
        on_diag(NULL, INI_ERROR, file, line, message);
}

/* The combinations the gevent engine does not serve, refused where the key is. */
static int check_gevent(VassalConfig *c, const Ini *ini) {
        int r = 0;

        if (c->gevent > 0) {
                const char *file = ini_path(ini) ?: "command line";
                unsigned line = 0;
                (void) key_origin(ini, "gevent", &file, &line);
                free(c->gevent_origin);
                c->gevent_origin = NULL;
                if ((line > 0 ? asprintf(&c->gevent_origin, "%s:%u", file, line)
                              : asprintf(&c->gevent_origin, "%s", file)) < 0) {
                        c->gevent_origin = NULL;
                        return log_oom();
                }
        }
        if (c->gevent == 0) {
                const char *keys[] = { "gevent-monkey-patch", "gevent-early-monkey-patch" };
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        const char *file;
                        unsigned line;
                        bool on = i == 0 ? c->gevent_monkey_patch : c->gevent_early_monkey_patch;
                        if (on && key_origin(ini, keys[i], &file, &line)) {
                                key_error(ini, keys[i], "needs 'gevent = N' (greenlets per "
                                          "worker): without it nothing would use the patches");
                                r = -EINVAL;
                        }
                }
                return r;
        }
        /* One thread runs the hub and every greenlet: a second thread per worker would need a
         * hub of its own and a share of the connections; processes scale instead. */
        if (c->threads > 1) {
                key_error(ini, "gevent", "not supported together with 'threads = %lld': one "
                          "gevent worker serves its requests on one thread; use 'processes' "
                          "for more workers", (long long) c->threads);
                r = -EINVAL;
        }
        if (c->exec) {
                key_error(ini, "gevent", "not supported with 'exec': there is no WSGI app to "
                          "serve in greenlets");
                r = -EINVAL;
        }
        return r;
}

/* cheaper's bounds depend on processes: refused where the key is, as uWSGI refuses them. */
static int check_cheaper(VassalConfig *c, const Ini *ini) {
        const char *file;
        unsigned line;
        int r = 0;

        if (c->cheaper > 0 && c->cheaper >= c->processes) {
                key_error(ini, "cheaper", "must be below processes (%lld): it is the fewest "
                          "workers kept, processes the most", (long long) c->processes);
                r = -EINVAL;
        }
        if (c->cheaper_initial > c->processes) {
                key_error(ini, "cheaper-initial", "must be at most processes (%lld)",
                          (long long) c->processes);
                r = -EINVAL;
        } else if (c->cheaper > 0 && c->cheaper_initial > 0 && c->cheaper_initial < c->cheaper) {
                key_error(ini, "cheaper-initial", "must be at least cheaper (%lld)",
                          (long long) c->cheaper);
                r = -EINVAL;
        }
        if (c->exec && (c->cheaper > 0 || c->idle > 0)) {
                key_error(ini, c->cheaper > 0 ? "cheaper" : "idle", "not supported with 'exec': "
                          "the program is one process, not workers");
                r = -EINVAL;
        }
        if (c->die_on_idle && c->idle == 0 && key_origin(ini, "die-on-idle", &file, &line)) {
                key_error(ini, "die-on-idle", "needs 'idle = SECONDS'");
                r = -EINVAL;
        }
        if (c->cheaper_initial == 0)
                c->cheaper_initial = c->cheaper > 0 ? c->cheaper : c->processes;
        return r;
}

int vassal_config_load(VassalConfig *c, const char *ini_spec, int argc, char **argv) {
        _cleanup_(ini_freep) Ini *ini = ini_new();
        char *positional[1];
        size_t n_positional = 0;
        int r;

        if (!ini)
                return log_oom();
        if (ini_spec) {
                r = ini_load_file(ini, ini_spec, on_diag, NULL);
                if (r < 0)
                        return r;
        }
        r = conf_parse_argv(vassal_options, ELEMENTSOF(vassal_options), argc, argv, ini,
                            positional, ELEMENTSOF(positional), &n_positional, on_diag, NULL);
        if (r < 0)
                return r;
        if (n_positional > 0) {
                config_error("command line", "unexpected argument '%s'", positional[0]);
                return -EINVAL;
        }
        r = conf_apply(vassal_options, ELEMENTSOF(vassal_options), c, ini, on_diag, NULL);
        if (r < 0)
                return r;

        r = check_gevent(c, ini);
        if (r < 0)
                return r;
        r = check_cheaper(c, ini);
        if (r < 0)
                return r;

        if (ini_path(ini)) {
                c->ini_path = strdup(ini_path(ini));
                c->name = name_from_path(ini_path(ini));
        } else
                c->name = strdup("vassal");
        if (!c->name || (ini_path(ini) && !c->ini_path))
                return log_oom();

        /* Where the log will be, for the stats (emperorctl logs): main.c chdirs after this,
         * and the master opens the log after that, so from here is where it starts. */
        char cwd[PATH_MAX];
        r = vkeys_log_path(c->logto, c->daemonize, c->chdir, getcwd(cwd, sizeof(cwd)),
                           &c->log_path);
        if (r == -ENOMEM)
                return log_oom();
        if (r == -EADDRNOTAVAIL) {
                /* No cwd (removed under us): the log opens relative to nothing we can name. */
                log_warning("cannot tell the log's absolute path: getcwd: %m");
                c->log_path = mfree(c->log_path);
        }

        /* The emperor sets its stats interval for every vassal; the ini's own key wins. */
        if (c->stats_interval < 0) {
                const char *env = getenv("EMPEROR_STATS_INTERVAL");
                int64_t v;
                c->stats_interval = 1;
                if (env && conf_parse_int(env, &v) >= 0 && v >= 0 && v <= 86400)
                        c->stats_interval = v;
                else if (env)
                        log_warning("EMPEROR_STATS_INTERVAL=%s: expected seconds (0-86400), "
                                    "using %lld", env, (long long) c->stats_interval);
        }
        return 0;
}

int vassal_config_verify(const VassalConfig *c) {
        const char *where = c->ini_path ?: "command line";
        int r = 0;

        if (c->exec) {
                /* Another program: no app; sockets are optional (it may bind its own). */
                if (c->module || c->wsgi_file) {
                        config_error(where, "'exec' and '%s' both set: a vassal runs either a "
                                     "program or a WSGI app", c->module ? "module" : "wsgi-file");
                        r = -EINVAL;
                }
        } else {
                if (!c->module && !c->wsgi_file) {
                        config_error(where, "no app to serve: set 'module' or 'wsgi-file'");
                        r = -EINVAL;
                }
                if (c->module && c->wsgi_file) {
                        config_error(where, "'module' and 'wsgi-file' both set: choose one");
                        r = -EINVAL;
                }
                if (!c->http_sockets && !c->uwsgi_sockets) {
                        config_error(where,
                                     "no socket to serve on: set 'http-socket' or 'socket'");
                        r = -EINVAL;
                }
        }
        if (c->stats) {
                struct sockaddr_storage sa;
                socklen_t len;
                if (sockaddr_parse(c->stats, &sa, &len) < 0) {
                        config_error(where, "stats: '%s' is not an address (HOST:PORT, :PORT or "
                                     "a unix socket path)", c->stats);
                        r = -EINVAL;
                }
        }
        if (c->thread_stacksize > 0 && c->thread_stacksize < 65536) {
                config_error(where, "thread-stacksize: must be at least 64k");
                r = -EINVAL;
        }
        if (c->uid || c->gid) {
                Credentials creds;
                char message[300];
                /* Only whether they exist: switching is for the run, as root. */
                int k = credentials_resolve(c->uid, c->gid, &creds, message, sizeof(message));
                if (k < 0 && k != -ENOMEM)
                        config_error(where, "%s", message);
                if (k < 0)
                        r = k == -ENOMEM ? k : -EINVAL;
                else
                        credentials_done(&creds);
        }
        return r;
}

#ifndef PYTHON_EXECUTABLE
#define PYTHON_EXECUTABLE "/usr/bin/python3"
#endif

/* Prints "Type: message" and exits 1 when gevent does not import; the sys.path entries to add
 * come as arguments (-I: no environment, no user site, as the embedded interpreter). */
static const char probe_code[] =
        "import sys\n"
        "sys.path[:0] = sys.argv[1:]\n"
        "try:\n"
        "    import gevent\n"
        "except BaseException as e:\n"
        "    print('%s: %s' % (type(e).__name__, e))\n"
        "    sys.exit(1)\n";

int vassal_config_probe(const VassalConfig *c) {
        char exe[PATH_MAX], out[300] = "";
        size_t n_path = 0;
        int pipefd[2], status = 0;
        pid_t pid;

        if (c->gevent == 0)
                return 0;
        if (c->virtualenv)
                (void) snprintf(exe, sizeof(exe), "%s/bin/python", c->virtualenv);
        else
                (void) snprintf(exe, sizeof(exe), "%s", PYTHON_EXECUTABLE);
        for (char **p = c->pythonpath; p && *p; p++)
                n_path++;
        _cleanup_free_ char **argv = calloc(n_path + 5, sizeof(char *));
        if (!argv)
                return log_oom();
        argv[0] = exe;
        argv[1] = (char *) "-I";
        argv[2] = (char *) "-c";
        argv[3] = (char *) probe_code;
        for (size_t i = 0; i < n_path; i++)
                argv[4 + i] = c->pythonpath[i];

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return log_error_errno(errno, "pipe: %m");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        int k = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        safe_close(pipefd[1]);
        if (k == 0) {
                size_t len = 0;
                ssize_t m;
                while (len < sizeof(out) - 1 &&
                       (m = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
                        len += m;
                out[len] = 0;
                out[strcspn(out, "\n")] = 0;
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
        }
        safe_close(pipefd[0]);
        if (k == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;

        char message[PATH_MAX + 512];
        if (k != 0)
                (void) snprintf(message, sizeof(message), "cannot run '%s' to check that gevent "
                                "imports: %s", exe, strerror(k));
        else
                (void) snprintf(message, sizeof(message), "gevent does not import in '%s': %s "
                                "(install python3-gevent, or gevent in the virtualenv)", exe,
                                out[0] ? out : "it failed");
        fprintf(stderr, "%s: gevent: %s\n", c->gevent_origin ?: "command line", message);
        remember_error("%s: gevent: %s", c->gevent_origin ?: "command line", message);
        return -EINVAL;
}

const ConfOption *vassal_config_table(size_t *ret_n) {
        *ret_n = ELEMENTSOF(vassal_options);
        return vassal_options;
}

void vassal_config_help(void) {
        for (size_t i = 0; i < ELEMENTSOF(vassal_options); i++) {
                const ConfOption *o = &vassal_options[i];
                if (o->type == CONF_IGNORED)
                        continue;
                printf("  --%-22s %s\n", o->name, strempty(o->help));
        }
}
