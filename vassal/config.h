/* SPDX-License-Identifier: MIT */
#pragma once

/* The vassal's settings: one typed struct filled from the ini and the command line through the
 * option table in config.c. uWSGI names and meanings, so existing uwsgi.ini files work. */

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

typedef struct VassalConfig {
        char *ini_path; /* absolute, NULL when configured from the command line only */
        char *name;     /* the ini's name without .ini, or "vassal" */
        /* Not a key: the log file as the master opens it (logto, else daemonize, after chdir),
         * absolute, for the stats; NULL: stderr. */
        char *log_path;

        /* Processes */
        int64_t processes;
        int64_t threads;
        uint64_t thread_stacksize; /* bytes */
        bool lazy_apps;
        int64_t reload_mercy;        /* seconds: graceful stop and reload bound */
        int64_t worker_reload_mercy; /* seconds: one worker's graceful exit */
        int64_t max_requests;
        /* gevent (gevent.c): each worker serves up to this many connections at once, each in
         * its own greenlet on one thread; 0: threads instead */
        int64_t gevent;
        bool gevent_monkey_patch;       /* gevent.monkey.patch_all() in each worker */
        bool gevent_early_monkey_patch; /* the same before the app is imported */
        char *gevent_origin;            /* "file:line" of the gevent key, for --check */
        char **touch_reload;       /* files whose touch reloads gracefully */
        char **touch_chain_reload; /* files whose touch chain-reloads */

        /* Sockets */
        char **http_sockets;  /* http-socket, http, http11-socket */
        char **uwsgi_sockets; /* socket, uwsgi-socket */
        int chmod_socket;     /* -1: leave the umask's mode */
        char *chown_socket;   /* user[:group] */
        int64_t listen;       /* backlog; 0: the system's somaxconn */
        uint64_t buffer_size; /* the largest request head (or uwsgi packet) */
        uint64_t post_buffering; /* 0: stream bodies; else buffer them, past this on disk */
        uint64_t limit_post;  /* 0: no limit on request bodies */
        int64_t socket_timeout;     /* seconds a client may stall mid-request */
        int64_t keepalive_timeout;  /* seconds an idle keep-alive connection is kept */
        int64_t header_timeout;     /* seconds a whole request head may take (408) */
        int64_t body_timeout;       /* seconds a body gets, plus 1 per body_min_rate bytes */
        uint64_t body_min_rate;     /* bytes/s a body must average past that; 0: no limit */

        /* Python */
        int64_t switch_interval; /* ms, sys.setswitchinterval(); 0: from the thread count */
        bool gc_freeze;          /* gc.freeze() once the app is imported */
        char *module;
        char *wsgi_file;
        char *callable;
        char *chdir;
        char **pythonpath;
        char *virtualenv;
        char **env;

        /* Logging */
        bool disable_logging;
        char *logto;
        /* Rotation and reopening of logto (logger.c) */
        uint64_t log_maxsize;   /* bytes; 0: never rotate */
        char *log_backupname;   /* a fixed backup name; NULL: NAME.YYYYMMDD-HHMMSS[-n] */
        int64_t log_maxbackups; /* keep this many NAME.STAMP backups; 0: all */
        bool log_compress;      /* gzip backups in the background */
        bool log_reopen;        /* reopen logto on every reload */
        char **touch_logreopen; /* reopen logto when one of these is touched */

        /* Process hygiene (daemon.c) */
        char *pidfile;   /* the master's pid, written atomically */
        bool vacuum;     /* remove the pidfile on exit (unix sockets always are) */
        char *daemonize; /* go to the background, logging to this file (unless logto) */

        /* Another program instead of a WSGI app (exec.c): the command line, checked when
         * parsed (quotes, no shell operators) and split again when run. */
        char *exec;

        /* Privileges: dropped after the sockets are bound and the log opened (privileges.c) */
        char *uid; /* user name or number */
        char *gid; /* group name or number; default: the user's primary group */

        /* Stats: X_STATS= over sd_notify every this many seconds; 0: never. Without the key,
         * EMPEROR_STATS_INTERVAL (set by the emperor), else 1. */
        int64_t stats_interval;
        int64_t watchdog; /* seconds; 0: off */
        char *stats;     /* stats server address (TCP or unix), NULL: none */
        bool stats_http; /* it answers HTTP requests instead of raw JSON-and-close */

        /* Guards (guard.c), uWSGI's meanings */
        int64_t harakiri;           /* seconds one request may run before its worker is killed */
        bool harakiri_verbose;      /* log the worker's requests and Python stacks first */
        int64_t max_requests_delta; /* worker N recycles after max-requests + (N-1) * this */
        int64_t reload_on_as;       /* MB of address space past which a worker is replaced */
        int64_t reload_on_rss;      /* MB of resident memory past which a worker is replaced */
        bool memory_report;         /* address space and rss in every request log line */

        bool compat_flag; /* uWSGI flags we accept and ignore (master, enable-threads, ...) */

        /* Request log: its format (logformat.c), which requests, and the loggers (logger.c) */
        char *logformat;          /* NULL: uWSGI's default line */
        bool logformat_strftime;  /* strftime(3) applies to the format's literal text */
        char *log_date;           /* NULL: off; "": ctime's form; else a strftime format */
        bool log_x_forwarded_for; /* %(addr) from X-Forwarded-For */
        bool log_micros;          /* the default line's time in µs */
        bool log_4xx, log_5xx, log_zero; /* log these even with disable-logging */
        int64_t log_slow;         /* ms: log slower requests even with disable-logging; 0: off */
        uint64_t log_big;         /* bytes: log bigger responses even so; 0: off */
        char *req_logger;         /* req-logger = file:PATH: request lines go there */
        char *logger_file;        /* logger = file:PATH: the log, as logto */
        struct LogFormat *log_format; /* compiled from logformat at load */
        /* Static files (static.c): the keys as given, for --help and the tests; statics is
         * what the workers serve from, built from them by vassal_config_load(), NULL when no
         * mapping is set. */
        char **static_map;         /* MOUNT=PATH: the path after MOUNT under PATH */
        char **static_map2;        /* MOUNT=PATH: the whole path under PATH */
        char **check_static;       /* DIR: the whole path, else the app */
        char **static_index;       /* names tried in a requested directory */
        char **static_skip_ext;    /* endings left to the app */
        char **static_expires_uri; /* "REGEX SECONDS" against REQUEST_URI */
        char **static_expires;     /* "REGEX SECONDS" against the file's path */
        int64_t offload_threads;   /* accepted; files go out by sendfile from the worker */
        struct StaticFiles *statics;
        /* Attached daemons and cron (daemons.c, cron.c): the values as written, each checked
         * when loaded (CONF_CUSTOM), parsed again by the master */
        char **attach_daemons;  /* attach-daemon = COMMAND */
        char **smart_daemons;   /* smart-attach-daemon = PIDFILE COMMAND */
        char **smart_daemons2;  /* smart-attach-daemon2 = PIDFILE COMMAND */
        char **attach_daemons2; /* attach-daemon2 = key=value,... */
        char **crons;           /* cron = MIN HOUR DAY MONTH WEEKDAY COMMAND */
        char **unique_crons;    /* unique-cron = the same */
        char **crons2;          /* cron2 = [key=value,...] COMMAND */
        int64_t cron_harakiri;  /* seconds a cron run may take; 0: no limit */
        /* uWSGI compatibility: strictness, worker lifecycle, headers, mounts */
        bool strict;                       /* unknown keys are errors (conf.c did it) */
        int64_t limit_as;                  /* MB: each worker's RLIMIT_AS; 0: none */
        int64_t max_worker_lifetime;       /* seconds before a worker is replaced; 0: never */
        int64_t max_worker_lifetime_delta; /* worker N: lifetime + N * this */
        bool reload_on_exception;          /* replace a worker whose app raised */
        char **add_header;                 /* "Name: value", added to every app response */
        bool need_app;                     /* false: serve 500s when the app does not load */
        char **mount;                      /* "/PREFIX=APP"; at most one (verify) */
        char *mount_prefix;                /* not a key: mount's /PREFIX ("" for "/") */
        bool manage_script_name;           /* SCRIPT_NAME=/PREFIX, PATH_INFO=the rest */
        char *pyargv;                      /* the app's sys.argv[1:], space-separated */
        int64_t py_autoreload;             /* seconds between looks at the modules; 0: off */
        /* ---- process titles (lib/procname.h) ---- */
        bool auto_procname; /* default: on under the emperor (EMPEROR_VASSAL=), off alone */
        char *procname, *procname_master, *procname_prefix, *procname_prefix_spaced;
        char *procname_append;
        /* Adaptive worker count (cheaper.c, master.c), uWSGI's meanings */
        int64_t cheaper;          /* the fewest workers kept running; 0: off, always processes */
        int64_t cheaper_initial;  /* workers started at start; 0: cheaper */
        int64_t cheaper_step;     /* workers spawned at once when every one is busy */
        int64_t cheaper_overload; /* seconds between checks */
        int64_t idle;             /* seconds without a request before every worker stops; 0: never */
        bool die_on_idle;         /* then the master exits (0) instead of waiting for a client */
} VassalConfig;

/* Sets every default. */
void vassal_config_init(VassalConfig *c);
void vassal_config_done(VassalConfig *c);

/* Loads FILE.ini[:section] (NULL: command line only) and then the command-line options in
 * argv (argv[0] the program, then the options without the ini file and the vassal's own
 * flags), reporting every problem as
 * "file:line: message" on stderr. Returns 0, or -EINVAL when any value was bad (the caller
 * exits EX_CONFIG), or -errno when the file cannot be read. */
int vassal_config_load(VassalConfig *c, const char *ini_spec, int argc, char **argv);

/* Checks what the table cannot: an app to load, a socket to serve. Reported; -EINVAL. */
int vassal_config_verify(const VassalConfig *c);

/* What only running can tell, tried the cheap way for --check: with gevent, that the app's
 * Python (the virtualenv's, else ours) imports gevent, with the configured pythonpath. Reported
 * as "file:line: gevent: ..."; -EINVAL. Runs a Python process: not for every start. */
int vassal_config_probe(const VassalConfig *c);

/* The first error load or verify reported, as printed ("file:line: message"), or NULL: what a
 * vassal exiting EX_CONFIG tells its supervisor in STATUS=. */
const char *vassal_config_error(void);

/* The whole option table, for the tests. */
const ConfOption *vassal_config_table(size_t *ret_n);

/* Prints the option table (for --help). */
void vassal_config_help(void);

/* How a key behaves differently from uWSGI's, for the man page and the README (the generator
 * joins it with the option table; tests/unit/test-config.c checks every key exists). */
typedef struct VassalDifference {
        const char *key;
        const char *difference;
} VassalDifference;
const VassalDifference *vassal_config_differences(size_t *ret_n);

/* The default of opt as the man page shows it ("60", "8k", "true", "" when there is none),
 * read from a config vassal_config_init() filled. */
void vassal_config_default(const ConfOption *opt, char *buf, size_t size);
