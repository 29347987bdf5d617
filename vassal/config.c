/* SPDX-License-Identifier: MIT */
#include <ctype.h>
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
#include "cron.h"
#include "daemons.h"
#include "exec.h"
#include "log.h"
#include "logformat.h"
#include "sockutil.h"
#include "static.h"
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
/* ---- request log (logformat.c, logger.c) ---- */

static char logformat_expected[192];

/* logformat: compiled here once to report a bad format at its line; compiled again with the
 * final options (logformat-strftime, log-micros ...) by logging_config_finish(). */
static int parse_logformat(const ConfOption *opt, const char *value, void *field,
                           const char **ret_expected) {
        _cleanup_(logformat_freep) LogFormat *f = NULL;
        (void) opt;
        int r = logformat_compile(value, &(LogFormatOptions) {}, &f, logformat_expected,
                                  sizeof(logformat_expected));
        if (r == -EINVAL) {
                *ret_expected = logformat_expected;
                return r;
        }
        if (r < 0)
                return r;
        char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        free(*(char **) field);
        *(char **) field = copy;
        return 0;
}

/* log-date: a boolean (uWSGI's bare flag: ctime's form) or a strftime(3) format. */
static int parse_log_date(const ConfOption *opt, const char *value, void *field,
                          const char **ret_expected) {
        bool b;
        char *v = NULL;
        (void) opt;
        (void) ret_expected;
        if (conf_parse_bool(value, &b) < 0 || b) {
                v = strdup(conf_parse_bool(value, &b) < 0 ? value : "");
                if (!v)
                        return -ENOMEM;
        }
        free(*(char **) field);
        *(char **) field = v;
        return 0;
}

/* logger, req-logger: "file:PATH", or uWSGI's named form "NAME file:PATH" (the name only
 * serves log-route, which we do not have). Every other logger plugin is refused by name. */
static int parse_logger(const ConfOption *opt, const char *value, void *field,
                        const char **ret_expected) {
        const char *v = value, *space = strchr(value, ' ');
        (void) opt;
        if (strncmp(value, "file:", 5) != 0 && space)
                v = space + strspn(space, " ");
        if (strncmp(v, "file:", 5) != 0 || v[5] == 0) {
                *ret_expected = "file:PATH (the only logger here: syslog:, rsyslog:, socket:, "
                                "redislog:, mongodblog:, zeromq: and the other uWSGI logger "
                                "plugins are not supported; logto also writes a file)";
                return -EINVAL;
        }
        char *copy = strdup(v + 5);
        if (!copy)
                return -ENOMEM;
        free(*(char **) field);
        *(char **) field = copy;
        return 0;
}

/* After the whole config is read: the format compiled with its options, logger's file as
 * logto. Returns 0 or -EINVAL (reported). */
static int logging_config_finish(VassalConfig *c) {
        char msg[256];
        LogFormatOptions o = {
                .strftime = c->logformat_strftime,
                .micros = c->log_micros,
                .x_forwarded_for = c->log_x_forwarded_for,
                .date_format = c->log_date && c->log_date[0] ? c->log_date : NULL,
        };
        int r = logformat_compile(c->logformat, &o, &c->log_format, msg, sizeof(msg));
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) /* parse_logformat() said it at its line already */
                return -EINVAL;
        if (msg[0])
                log_warning("logformat: %s", msg);
        if (c->logger_file) {
                if (c->logto && !streq(c->logto, c->logger_file))
                        log_warning("logger = file:%s replaces logto = %s", c->logger_file,
                                    c->logto);
                free(c->logto);
                c->logto = strdup(c->logger_file);
                if (!c->logto)
                        return log_oom();
        }
        return 0;
}

/* add-header: "Name: value", a token for the name and no control byte in the value (a CR or
 * LF would let the ini inject headers or split the response). Checked only: stored as
 * written (CONF_STRV with a check). */
static int parse_header(const ConfOption *opt, const char *value, void *field,
                        const char **ret_expected) {
        const char *colon = strchr(value, ':');
        (void) opt;
        (void) field;
        if (!colon || colon == value) {
                *ret_expected = "'Name: value'";
                return -EINVAL;
        }
        for (const char *p = value; p < colon; p++)
                if (!(isalnum((unsigned char) *p) || strchr("!#$%&'*+-.^_`|~", *p))) {
                        *ret_expected = "'Name: value' with a header name of letters, digits "
                                        "and -";
                        return -EINVAL;
                }
        for (const char *p = colon + 1; *p; p++)
                if (((unsigned char) *p < 0x20 && *p != '\t') || *p == 0x7f) {
                        *ret_expected = "'Name: value' without CR, LF or other control bytes";
                        return -EINVAL;
                }
        return 0;
}

/* mount: "/PREFIX=APP", the prefix a path without a trailing slash ("" for the root is
 * written "/"), APP a file or a module. Checked only; config.c splits it after the load. */
static int parse_mount(const ConfOption *opt, const char *value, void *field,
                       const char **ret_expected) {
        const char *eq = strchr(value, '=');
        (void) opt;
        (void) field;
        if (!eq || value[0] != '/' || !eq[1] || (eq - value > 1 && eq[-1] == '/')) {
                *ret_expected = "/PREFIX=APP (app.py or pkg.mod[:callable]), the prefix "
                                "without a trailing slash";
                return -EINVAL;
        }
        return 0;
}

/* plugins: uWSGI loads languages and engines as plugins; ours are built in. Python, gevent
 * and the few the core does itself are accepted; another language cannot run here. */
static int parse_plugins(const ConfOption *opt, const char *value, void *field,
                         const char **ret_expected) {
        static const char *const builtin[] = { "python", "gevent", "greenlet", "http",
                                               "corerouter", "logfile", "syslog", "rsyslog",
                                               "router_static", "notfound" };
        (void) opt;
        (void) field;
        for (const char *p = value; *p;) {
                size_t n = strcspn(p, ", \t");
                bool ok = n == 0;
                for (size_t i = 0; i < ELEMENTSOF(builtin) && !ok; i++) {
                        size_t l = strlen(builtin[i]);
                        /* python3, python311, gevent_python3, ... */
                        ok = n >= l && strncmp(p, builtin[i], l) == 0 &&
                             (n == l || streq(builtin[i], "python") ||
                              streq(builtin[i], "gevent"));
                }
                if (!ok) {
                        *ret_expected = "python or gevent: this server runs Python WSGI apps "
                                        "only (for another language, run its server with exec)";
                        return -EINVAL;
                }
                p += n;
                p += strspn(p, ", \t");
        }
        return 0;
}

/* ---- attached daemons and cron (daemons.c, cron.c) ---- */

/* Checks a daemon or cron line the way the master will parse it, so a bad one is
 * "file:line: key: expected ..." in --check, then keeps the value as written. */
static int keep_checked(const char *value, void *field) {
        return conf_strv_append(value, field);
}

static int parse_daemon(const ConfOption *opt, const char *value, void *field,
                        const char **ret_expected) {
        DaemonKind kind = streq(opt->name, "attach-daemon")         ? DAEMON_ATTACH
                          : streq(opt->name, "smart-attach-daemon")  ? DAEMON_SMART
                          : streq(opt->name, "smart-attach-daemon2") ? DAEMON_SMART2
                                                                     : DAEMON_KEYVAL;
        DaemonSpec s;
        int r = daemon_spec_parse(kind, value, &s, ret_expected);
        if (r < 0)
                return r;
        daemon_spec_done(&s);
        return keep_checked(value, field);
}

static int parse_cron(const ConfOption *opt, const char *value, void *field,
                      const char **ret_expected) {
        CronEntry e;
        int r = streq(opt->name, "cron2") ? cron_parse2(value, &e, ret_expected)
                                          : cron_parse(value, false, &e, ret_expected);
        if (r < 0)
                return r;
        cron_entry_done(&e);
        return keep_checked(value, field);
}

static void free_checked(char ***l) {
        for (char **p = *l; p && *p; p++)
                free(*p);
        free(*l);
        *l = NULL;
}

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
        { "workers", CONF_INT, F(processes), 1, 1024, NULL, "same as processes" },
        { "threads", CONF_INT, F(threads), 1, 10000, NULL, "threads per worker" },
        { "thread-stacksize", CONF_CUSTOM, F(thread_stacksize), 0, 0, parse_stacksize,
          "stack size of each worker thread (a bare number is KiB, as in uWSGI)" },
        { "threads-stacksize", CONF_CUSTOM, F(thread_stacksize), 0, 0, parse_stacksize,
          "same as thread-stacksize" },
        { "thread-stack-size", CONF_CUSTOM, F(thread_stacksize), 0, 0, parse_stacksize,
          "same as thread-stacksize" },
        { "threads-stack-size", CONF_CUSTOM, F(thread_stacksize), 0, 0, parse_stacksize,
          "same as thread-stacksize" },
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
        { "http-timeout", CONF_INT, F(socket_timeout), 1, 3600, NULL, "same as socket-timeout" },
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

        /* Request log: its format, which requests, the loggers (logformat.c, logger.c) */
        { "logformat", CONF_CUSTOM, F(logformat), 0, 0, parse_logformat,
          "the request line's format: %(addr), %(method), %(uri), %(status), %(msecs) ... "
          "(default: uWSGI's line)" },
        { "log-format", CONF_CUSTOM, F(logformat), 0, 0, parse_logformat, "alias of logformat" },
        { "logformat-strftime", CONF_BOOL, F(logformat_strftime), 0, 0, NULL,
          "apply strftime(3) to logformat's text (%Y, %H ... outside %(...))" },
        { "log-format-strftime", CONF_BOOL, F(logformat_strftime), 0, 0, NULL,
          "alias of logformat-strftime" },
        { "log-date", CONF_CUSTOM, F(log_date), 0, 0, parse_log_date,
          "prefix every log line with the date (true: ctime's form, else a strftime format)" },
        { "logdate", CONF_CUSTOM, F(log_date), 0, 0, parse_log_date, "alias of log-date" },
        { "log-x-forwarded-for", CONF_BOOL, F(log_x_forwarded_for), 0, 0, NULL,
          "log X-Forwarded-For's first address as %(addr) instead of REMOTE_ADDR" },
        { "log-micros", CONF_BOOL, F(log_micros), 0, 0, NULL,
          "the default request line says micros instead of msecs" },
        { "log-4xx", CONF_BOOL, F(log_4xx), 0, 0, NULL,
          "log 4xx responses even with disable-logging" },
        { "log-5xx", CONF_BOOL, F(log_5xx), 0, 0, NULL,
          "log 5xx responses even with disable-logging" },
        { "log-slow", CONF_INT, F(log_slow), 0, INT32_MAX, NULL,
          "log requests slower than this many ms even with disable-logging (0: off)" },
        { "log-zero", CONF_BOOL, F(log_zero), 0, 0, NULL,
          "log responses without a body even with disable-logging" },
        { "log-big", CONF_SIZE, F(log_big), 0, 0, NULL,
          "log responses of at least this many body bytes even with disable-logging (0: off)" },
        { "req-logger", CONF_CUSTOM, F(req_logger), 0, 0, parse_logger,
          "file:PATH: request lines go to this file, rotated with log-maxsize" },
        { "logger-req", CONF_CUSTOM, F(req_logger), 0, 0, parse_logger, "alias of req-logger" },
        { "logger", CONF_CUSTOM, F(logger_file), 0, 0, parse_logger,
          "file:PATH: the log goes to this file (as logto)" },
        /* Static files (static.c): served by the worker in C before the app, uWSGI's keys.
         * Checked and compiled by build_statics() from the ini entries, so a bad value is
         * reported at its own line. */
        { "static-map", CONF_STRV, F(static_map), 0, 0, NULL,
          "serve MOUNT=PATH: /MOUNT/x from PATH/x, without the app (repeatable; a missing file "
          "goes on to the next mapping, then the app)" },
        { "static-map2", CONF_STRV, F(static_map2), 0, 0, NULL,
          "like static-map, but the whole URL path is appended to PATH (/MOUNT/x from "
          "PATH/MOUNT/x)" },
        { "check-static", CONF_STRV, F(check_static), 0, 0, NULL,
          "serve any URL whose path names a file under DIR, before the app (repeatable)" },
        { "static-index", CONF_STRV, F(static_index), 0, 0, NULL,
          "serve this file for a directory, such as index.html (repeatable; without it a "
          "directory goes to the app)" },
        { "static-skip-ext", CONF_STRV, F(static_skip_ext), 0, 0, NULL,
          "leave paths with this ending to the app, such as .py (repeatable)" },
        { "static-expires-uri", CONF_STRV, F(static_expires_uri), 0, 0, NULL,
          "REGEX SECONDS: static files whose request URI matches get Expires and "
          "Cache-Control: max-age (repeatable, first match wins)" },
        { "static-expires", CONF_STRV, F(static_expires), 0, 0, NULL,
          "REGEX SECONDS: the same, matched against the file's path" },
        { "offload-threads", CONF_INT, F(offload_threads), 0, 1024, NULL,
          "accepted for uWSGI configs: static files go out by sendfile(2) from the worker "
          "thread or greenlet itself, which waits for a slow client without the GIL" },
        /* ---- uWSGI compatibility: strictness, worker lifecycle, headers, mounts ---- */
        { "strict", CONF_STRICT, F(strict), 0, 0, NULL,
          "unknown keys anywhere in the file are errors instead of warnings" },
        { "limit-as", CONF_INT, F(limit_as), 0, INT32_MAX, NULL,
          "each worker's address space limit in MB (setrlimit RLIMIT_AS; 0: none)" },
        { "max-worker-lifetime", CONF_INT, F(max_worker_lifetime), 0, INT32_MAX, NULL,
          "replace a worker gracefully once it has run this many seconds (0: never)" },
        { "max-worker-lifetime-delta", CONF_INT, F(max_worker_lifetime_delta), 0, INT32_MAX,
          NULL, "worker N lives max-worker-lifetime + N * this seconds, so they do not all go "
          "at once" },
        { "reload-on-exception", CONF_BOOL, F(reload_on_exception), 0, 0, NULL,
          "replace a worker gracefully once a request whose app raised is answered" },
        { "add-header", CONF_STRV, F(add_header), 0, 0, parse_header,
          "add 'Name: value' to every response of the app (repeatable)" },
        { "need-app", CONF_BOOL, F(need_app), 0, 0, NULL,
          "exit (78) when the app does not load (default true); false: serve 500s without it" },
        { "mount", CONF_STRV, F(mount), 0, 0, parse_mount,
          "load the app at a mount point: /PREFIX=app.py or /PREFIX=pkg.mod[:callable]" },
        { "manage-script-name", CONF_BOOL, F(manage_script_name), 0, 0, NULL,
          "split PATH_INFO at the mount point: SCRIPT_NAME=/PREFIX, PATH_INFO=the rest" },
        { "py-autoreload", CONF_INT, F(py_autoreload), 0, 86400, NULL,
          "every this many seconds, reload gracefully when a Python module's source file "
          "changed (for development; 0: never)" },
        { "python-autoreload", CONF_INT, F(py_autoreload), 0, 86400, NULL,
          "alias of py-autoreload" },
        { "pyargv", CONF_STRING, F(pyargv), 0, 0, NULL,
          "the app's sys.argv[1:], words separated by spaces" },
        /* ---- process titles (lib/procname.h; vassal.8, PROCESS TITLES) ---- */
        { "auto-procname", CONF_BOOL, F(auto_procname), 0, 0, NULL,
          "name the processes 'vassal NAME master' and 'vassal NAME worker N' in ps (default: "
          "on under the emperor, off standalone)" },
        { "procname", CONF_STRING, F(procname), 0, 0, NULL,
          "the name of every process of the vassal in ps, instead of the automatic one" },
        { "procname-master", CONF_STRING, F(procname_master), 0, 0, NULL,
          "the name of the master process in ps" },
        { "procname-prefix", CONF_STRING, F(procname_prefix), 0, 0, NULL,
          "put this before every process name, as it is" },
        { "procname-prefix-spaced", CONF_STRING, F(procname_prefix_spaced), 0, 0, NULL,
          "put this and a blank before every process name" },
        { "procname-append", CONF_STRING, F(procname_append), 0, 0, NULL,
          "put this after every process name, as it is" },
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
        /* ---- attached daemons and cron (daemons.c, cron.c) ---- */
        { "attach-daemon", CONF_CUSTOM, F(attach_daemons), 0, 0, parse_daemon,
          "run COMMAND (/bin/sh -c) beside the app: restarted with backoff when it dies and on "
          "a reload, stopped with the vassal, its output in the log as '[daemon NAME] ...'" },
        { "smart-attach-daemon", CONF_CUSTOM, F(smart_daemons), 0, 0, parse_daemon,
          "PIDFILE COMMAND: a daemon governed by its pidfile, not started while that pid runs, "
          "restarted when it dies, left running across reloads and stops" },
        { "smart-attach-daemon2", CONF_CUSTOM, F(smart_daemons2), 0, 0, parse_daemon,
          "PIDFILE COMMAND: like smart-attach-daemon for a program that stays in the "
          "foreground; the master writes its pid to PIDFILE" },
        { "attach-daemon2", CONF_CUSTOM, F(attach_daemons2), 0, 0, parse_daemon,
          "cmd=COMMAND and, comma-separated, any of pidfile=P, daemonize=1, freq=N, "
          "control=1, touch=F1;F2, stopsignal=S, reloadsignal=S, stdin=1, uid=U, gid=G, "
          "chdir=D: a daemon with uWSGI's key=value options" },
        { "cron", CONF_CUSTOM, F(crons), 0, 0, parse_cron,
          "MINUTE HOUR DAY MONTH WEEKDAY COMMAND: run COMMAND at those times (-1: any, -N: "
          "every N), from the master" },
        { "unique-cron", CONF_CUSTOM, F(unique_crons), 0, 0, parse_cron,
          "like cron, but not started again while its previous run is still running" },
        { "cron2", CONF_CUSTOM, F(crons2), 0, 0, parse_cron,
          "[KEY=VALUE,...] COMMAND, the keys minute, hour, day, month, week (each defaults "
          "to any), unique=1 and harakiri=S: cron with key=value fields" },
        { "cron-harakiri", CONF_INT, F(cron_harakiri), 0, 604800, NULL,
          "kill a cron run still running after this many seconds (0: never)" },

        { "master", CONF_BOOL, F(compat_flag), 0, 0, NULL,
          "accepted: there is always a master" },
        { "enable-threads", CONF_BOOL, F(compat_flag), 0, 0, NULL,
          "accepted: Python threads always work" },
        { "plugins", CONF_CUSTOM, F(compat_flag), 0, 0, parse_plugins,
          "accepted for python and gevent (built in); other languages are refused" },
        { "plugin", CONF_CUSTOM, F(compat_flag), 0, 0, parse_plugins, "same as plugins" },
        { "die-on-term", CONF_BOOL, F(compat_flag), 0, 0, NULL,
          "accepted: SIGTERM always stops gracefully (it never reloads)" },
        { "single-interpreter", CONF_BOOL, F(compat_flag), 0, 0, NULL,
          "accepted: there is always one interpreter" },
        { "thunder-lock", CONF_BOOL, F(compat_flag), 0, 0, NULL,
          "accepted: workers never stampede on accept" },
        { "http-keepalive", CONF_BOOL, F(compat_flag), 0, 0, NULL,
          "accepted: http-socket always does keep-alive" },
        { "py-call-osafterfork", CONF_BOOL, F(compat_flag), 0, 0, NULL,
          "accepted: workers run Python's after-fork hooks" },

        /* ---- uWSGI features we do not offer (an error: what they were, what to use) ---- */
#define REFUSED(key, why) { key, CONF_REFUSED, 0, 0, 0, NULL, why }
        REFUSED("spooler", "uWSGI's spooler ran queued tasks in separate processes; run a "
                "task queue (Celery, RQ) with attach-daemon or as its own vassal (exec)"),
        REFUSED("spooler-*", "uWSGI's spooler ran queued tasks in separate processes; run a "
                "task queue (Celery, RQ) with attach-daemon or as its own vassal (exec)"),
        REFUSED("mule", "uWSGI's mules were helper processes for background work; run it "
                "with attach-daemon or as its own vassal (exec)"),
        REFUSED("mules", "uWSGI's mules were helper processes for background work; run it "
                "with attach-daemon or as its own vassal (exec)"),
        REFUSED("farm", "a farm grouped uWSGI mules; run background work with attach-daemon"),
        REFUSED("route", "uWSGI's internal routing (rewrites, redirects, access rules); do it in "
                "the front server (nginx rewrite, return, location)"),
        REFUSED("route-*", "uWSGI's internal routing (rewrites, redirects, access rules); do it "
                "in the front server (nginx rewrite, return, location)"),
        REFUSED("final-route*", "uWSGI's internal routing; do it in the front server (nginx)"),
        REFUSED("error-route*", "uWSGI's internal routing; do it in the front server (nginx)"),
        REFUSED("response-route*", "uWSGI's internal routing; do it in the front server "
                "(nginx)"),
        REFUSED("ugreen", "uWSGI's green threads; use gevent = N for many connections per "
                "worker, or threads"),
        REFUSED("async", "uWSGI's async cores for a loop engine; use gevent = N for many "
                "connections per worker, or threads"),
        REFUSED("emperor", "an emperor started from a vassal's ini; run the emperor daemon "
                "(emperor DIR, emperor(8)) over a directory of vassal inis"),
        REFUSED("cache2", "uWSGI's shared in-memory cache; use Redis or memcached (Django's "
                "and Flask's cache backends speak both)"),
        REFUSED("cache", "uWSGI's shared in-memory cache; use Redis or memcached"),
        REFUSED("legion*", "legions elected one node among servers (floating IPs, failover); "
                "use keepalived, Pacemaker or the orchestrator"),
        REFUSED("subscribe-to", "subscribed the instance to a uWSGI fastrouter; point nginx or "
                "the load balancer at the vassal's sockets"),
        REFUSED("subscribe2", "subscribed the instance to a uWSGI fastrouter; point nginx or "
                "the load balancer at the vassal's sockets"),
        REFUSED("fastrouter", "uWSGI's proxy in front of instances; use nginx (uwsgi_pass) or "
                "HAProxy"),
        REFUSED("fastrouter-*", "uWSGI's proxy in front of instances; use nginx (uwsgi_pass) "
                "or HAProxy"),
        REFUSED("http-to", "sent uWSGI's HTTP router to uwsgi sockets; the vassal serves HTTP "
                "itself: http-socket = ADDR"),
#undef REFUSED
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

/* Every default, without touching the error state (vassal_config_default() uses it). */
static void config_defaults(VassalConfig *c) {
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
                .need_app = true,
                /* Under the emperor (which names its vassals so) the processes are named. */
                .auto_procname = getenv("EMPEROR_VASSAL") != NULL,
        };
}

void vassal_config_init(VassalConfig *c) {
        config_defaults(c);
        first_error[0] = 0;
}

void vassal_config_done(VassalConfig *c) {
        free(c->exec); /* CONF_CUSTOM: conf_free() does not know it is a string */
        c->exec = NULL;
        c->statics = static_files_free(c->statics);
        free_checked(&c->attach_daemons); /* CONF_CUSTOM lists, likewise */
        free_checked(&c->smart_daemons);
        free_checked(&c->smart_daemons2);
        free_checked(&c->attach_daemons2);
        free_checked(&c->crons);
        free_checked(&c->unique_crons);
        free_checked(&c->crons2);
        conf_free(vassal_options, ELEMENTSOF(vassal_options), c);
        free(c->ini_path);
        free(c->name);
        free(c->gevent_origin);
        free(c->log_path);
        free(c->logformat); /* CONF_CUSTOM, as exec */
        free(c->log_date);
        free(c->req_logger);
        free(c->logger_file);
        logformat_free(c->log_format);
        free(c->mount_prefix);
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

/* The static file rules (static.c), from the ini's entries in their order, each bad value
 * reported at its own line; c->statics stays NULL without any. */
static int build_statics(VassalConfig *c, const Ini *ini) {
        _cleanup_(static_files_freep) StaticFiles *s = NULL;
        int r = 0;

        for (size_t i = 0; i < ini_size(ini); i++) {
                const IniEntry *e = ini_entry(ini, i);
                const char *expected = NULL;
                if (!static_files_key(e->key))
                        continue;
                if (!s && static_files_new(&s) < 0)
                        return log_oom();
                int k = static_files_add(s, e->key, e->value, &expected);
                if (k == -ENOMEM)
                        return log_oom();
                if (k < 0) {
                        char message[400];
                        (void) snprintf(message, sizeof(message), "%s: expected %s", e->key,
                                        expected);
                        on_diag(NULL, INI_ERROR, e->file, e->line, message);
                        r = -EINVAL;
                }
        }
        if (r == 0 && static_files_active(s))
                c->statics = TAKE_PTR(s);
        return r;
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

/* Where the n-th (0-based) occurrence of key is. False when there are fewer. */
static bool key_nth_origin(const Ini *ini, const char *key, size_t nth, const char **ret_file,
                           unsigned *ret_line) {
        for (size_t i = 0; i < ini_size(ini); i++) {
                const IniEntry *e = ini_entry(ini, i);
                if (streq(e->key, key) && nth-- == 0) {
                        *ret_file = e->file;
                        *ret_line = e->line;
                        return true;
                }
        }
        return false;
}

/* mount: one app per vassal (one interpreter, one callable: wsgi.c), so one mount point; it
 * becomes the app (wsgi-file or module) and the prefix manage-script-name splits at. */
static int apply_mount(VassalConfig *c, const Ini *ini) {
        if (!c->mount)
                return 0;
        if (c->mount[1]) {
                const char *file = "command line";
                unsigned line = 0;
                (void) key_nth_origin(ini, "mount", 1, &file, &line);
                on_diag(NULL, INI_ERROR, file, line, "mount: a second mount point: one vassal "
                        "serves one app here; run a vassal per app (and route by path in the "
                        "front server)");
                return -EINVAL;
        }
        if (c->module || c->wsgi_file) {
                key_error(ini, "mount", "'%s' is set too: one vassal serves one app here; "
                          "give the app only as mount = /PREFIX=APP",
                          c->module ? "module" : "wsgi-file");
                return -EINVAL;
        }
        const char *eq = strchr(c->mount[0], '=');
        const char *app = eq + 1;
        size_t n = strlen(app);
        c->mount_prefix = strndup(c->mount[0], eq - c->mount[0] == 1 ? 0 : eq - c->mount[0]);
        if (!c->mount_prefix)
                return log_oom();
        bool file = strchr(app, '/') || (n > 3 && streq(app + n - 3, ".py")) ||
                    (n > 5 && streq(app + n - 5, ".wsgi"));
        char *copy = strdup(app);
        if (!copy)
                return log_oom();
        if (file)
                c->wsgi_file = copy;
        else
                c->module = copy;
        return 0;
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
        r = logging_config_finish(c);
        if (r < 0)
                return r;

        r = check_gevent(c, ini);
        if (r < 0)
                return r;
        r = build_statics(c, ini);
        if (r < 0)
                return r;
        r = apply_mount(c, ini);
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
                if (!c->module && !c->wsgi_file && c->need_app) {
                        config_error(where, "no app to serve: set 'module', 'wsgi-file' or "
                                     "'mount'");
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
                if (o->type == CONF_IGNORED || o->type == CONF_REFUSED)
                        continue;
                printf("  --%-22s %s\n", o->name, strempty(o->help));
        }
}

/* What a uWSGI user should know about a key beyond its description: where we differ. Keys
 * not listed behave as in uWSGI. */
static const VassalDifference vassal_differences[] = {
        { "strict", "keys used through %(key) are the user's variables and stay allowed "
          "(uWSGI wants set-placeholder for them)" },
        { "http", "serves HTTP from the workers, as http-socket: there is no separate router "
          "process" },
        { "listen", "defaults to the kernel's somaxconn, not 100" },
        { "need-app", "defaults to true, as in uWSGI 2.1; false serves 500s when the app "
          "does not load" },
        { "die-on-term", "always on: SIGTERM stops gracefully and never reloads (SIGHUP "
          "reloads)" },
        { "max-requests-delta", "worker N adds (N - 1) * delta, so worker 1 keeps max-requests" },
        { "mount", "one mount point per vassal (one app per interpreter); more are refused" },
        { "manage-script-name", "a path outside the mount point reaches the app unchanged" },
        { "add-header", "added to the app's responses, not to the server's own error pages" },
        { "plugins", "python and gevent are built in; another language is refused" },
        { "plugin", "python and gevent are built in; another language is refused" },
        { "single-interpreter", "always on: sub-interpreters are not offered" },
        { "limit-as", "applies to each worker, not to the master" },
        { "worker-reload-mercy", "also bounds a worker replaced for max-worker-lifetime, "
          "reload-on-as/rss and chain reloads" },
        { "gc-freeze", "not in uWSGI: ours, on by default" },
        { "switch-interval", "not in uWSGI: ours" },
        { "header-timeout", "not in uWSGI: ours (slow-loris bound), on by default" },
        { "body-timeout", "not in uWSGI: ours (slow-loris bound), on by default" },
        { "body-min-rate", "not in uWSGI: ours (slow-loris bound), on by default" },
        { "exec", "not in uWSGI: ours (uWSGI's closest is attach-daemon)" },
        { "watchdog", "not in uWSGI: ours (systemd's WATCHDOG=1)" },
        { "log-maxbackups", "not in uWSGI: ours" },
        { "socket", "the uwsgi protocol only (uWSGI's default protocol); no FastCGI or SCGI" },
};

const VassalDifference *vassal_config_differences(size_t *ret_n) {
        *ret_n = ELEMENTSOF(vassal_differences);
        return vassal_differences;
}

void vassal_config_default(const ConfOption *opt, char *buf, size_t size) {
        VassalConfig c;
        const void *field;

        config_defaults(&c);
        field = (const char *) &c + opt->offset;
        buf[0] = 0;
        switch (opt->type) {
        case CONF_BOOL:
        case CONF_STRICT:
                if (opt->offset != offsetof(VassalConfig, compat_flag))
                        (void) snprintf(buf, size, "%s", *(const bool *) field ? "true" : "false");
                break;
        case CONF_INT:
                /* Negative: "unset", worked out at load (stats-interval): the help says how. */
                if (*(const int64_t *) field >= 0)
                        (void) snprintf(buf, size, "%lld", (long long) *(const int64_t *) field);
                break;
        case CONF_SIZE: {
                uint64_t v = *(const uint64_t *) field;
                if (v > 0 && v % (1024 * 1024) == 0)
                        (void) snprintf(buf, size, "%lluM", (unsigned long long) (v >> 20));
                else if (v > 0 && v % 1024 == 0)
                        (void) snprintf(buf, size, "%lluk", (unsigned long long) (v >> 10));
                else
                        (void) snprintf(buf, size, "%llu", (unsigned long long) v);
                break;
        }
        case CONF_MODE:
        case CONF_STRING:
        case CONF_STRV:
        case CONF_CUSTOM:
        case CONF_IGNORED:
        case CONF_REFUSED:
                break;
        }
}
