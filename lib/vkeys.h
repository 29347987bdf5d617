/* SPDX-License-Identifier: MIT */
#pragma once

/* The vassal's ini keys that more than one program reads, each module's written once: the
 * vassal composes them into its full table (vassal/config.c), the emperor and emperorctl into
 * the small reader of lib/vini.h. A key, its aliases, its type, its bounds, its help and its
 * default live here and nowhere else, so the emperor binds the sockets the vassal would bind,
 * with the same backlog, and waits the mercy the vassal takes.
 *
 * A table is a list of rows for a struct type T that has the named fields (CONF_FIELD refuses
 * at compile time a field of another type), so each program keeps its own flat struct:
 *
 *   static const ConfOption options[] = { VKEYS_SOCKET_OPTIONS(MyConfig), ... };
 *   *c = (MyConfig) { VKEYS_SOCKET_DEFAULTS, ... };
 *
 * Modules and their fields:
 *   SOCKET      char **http_sockets, **uwsgi_sockets; int chmod_socket; char *chown_socket;
 *               int64_t listen
 *   CREDENTIALS char *uid, *gid
 *   STOP        int64_t reload_mercy, worker_reload_mercy
 *   LOGGING     bool disable_logging; char *logto; uint64_t log_maxsize; char *log_backupname;
 *               int64_t log_maxbackups; bool log_compress, log_reopen; char **touch_logreopen;
 *               char *daemonize
 *   WORKDIR     char *chdir */

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

/* Checks a socket address as uWSGI writes them, without binding or resolving: HOST:PORT,
 * :PORT, *:PORT, [IPv6]:PORT (port 0-65535), a unix socket path (anything with a '/' or
 * without a ':', shorter than sun_path) or @abstract. A ConfParseFunc for CONF_STRV rows
 * (field NULL: validate only); -EINVAL with what is wrong in *ret_expected. */
int vkeys_parse_address(const ConfOption *opt, const char *value, void *field,
                        const char **ret_expected);

/* Sockets: the emperor binds them (and hands them over as LISTEN_FDS), a standalone vassal
 * binds them itself. http sockets first, then uwsgi ones: the order they are adopted in. */
#define VKEYS_SOCKET_OPTIONS(T)                                                            \
        { "http-socket", CONF_STRV, CONF_FIELD(T, http_sockets, char **), 0, 0,            \
          vkeys_parse_address, "serve HTTP/1.1 on ADDR (HOST:PORT, :PORT, a unix path)" }, \
        { "http", CONF_STRV, CONF_FIELD(T, http_sockets, char **), 0, 0,                   \
          vkeys_parse_address, "same as http-socket (no separate router process)" },       \
        { "http11-socket", CONF_STRV, CONF_FIELD(T, http_sockets, char **), 0, 0,          \
          vkeys_parse_address, "same as http-socket" },                                    \
        { "socket", CONF_STRV, CONF_FIELD(T, uwsgi_sockets, char **), 0, 0,                \
          vkeys_parse_address, "serve the uwsgi protocol (nginx uwsgi_pass) on ADDR" },    \
        { "uwsgi-socket", CONF_STRV, CONF_FIELD(T, uwsgi_sockets, char **), 0, 0,          \
          vkeys_parse_address, "same as socket" },                                         \
        { "chmod-socket", CONF_MODE, CONF_FIELD(T, chmod_socket, int), 0, 0, NULL,         \
          "mode of unix sockets (octal; a bare key: 666)" },                               \
        { "chown-socket", CONF_STRING, CONF_FIELD(T, chown_socket, char *), 0, 0, NULL,    \
          "owner of unix sockets (user[:group])" },                                        \
        { "listen", CONF_INT, CONF_FIELD(T, listen, int64_t), 1, 65535, NULL,              \
          "listen backlog (default: the kernel's somaxconn)" }
/* chmod-socket -1: the umask's mode; listen 0: the system's somaxconn. */
#define VKEYS_SOCKET_DEFAULTS .chmod_socket = -1, .listen = 0

/* Who the vassal runs as: names or numbers, resolved by lib/users.h. */
#define VKEYS_CREDENTIALS_OPTIONS(T)                                                             \
        { "uid", CONF_STRING, CONF_FIELD(T, uid, char *), 0, 0, NULL,                            \
          "user to run as (name or number), when root" },                                        \
        { "gid", CONF_STRING, CONF_FIELD(T, gid, char *), 0, 0, NULL,                            \
          "group to run as (default: the user's primary group)" }

/* How long stopping may take: the vassal's graceful stop, and the emperor's wait before it
 * kills the vassal's whole group. */
#define VKEYS_STOP_OPTIONS(T)                                                                    \
        { "reload-mercy", CONF_INT, CONF_FIELD(T, reload_mercy, int64_t), 1, 86400, NULL,        \
          "seconds a graceful stop may take before workers are killed" },                        \
        { "worker-reload-mercy", CONF_INT, CONF_FIELD(T, worker_reload_mercy, int64_t), 1,       \
          86400, NULL, "seconds one worker may take to finish its requests" }
#define VKEYS_STOP_DEFAULTS .reload_mercy = 60, .worker_reload_mercy = 60

/* The log: the vassal's master writes, rotates and reopens it (vassal/logger.c); emperorctl
 * reads it. daemonize names a log file too (used when logto is not set). */
#define VKEYS_LOGGING_OPTIONS(T)                                                                 \
        { "disable-logging", CONF_BOOL, CONF_FIELD(T, disable_logging, bool), 0, 0, NULL,        \
          "no request log" },                                                                    \
        { "logto", CONF_STRING, CONF_FIELD(T, logto, char *), 0, 0, NULL,                        \
          "append the log to this file" },                                                       \
        { "log-maxsize", CONF_SIZE, CONF_FIELD(T, log_maxsize, uint64_t), 0, 0, NULL,            \
          "rotate logto past this size, between two lines (0: never)" },                         \
        { "log-backupname", CONF_STRING, CONF_FIELD(T, log_backupname, char *), 0, 0, NULL,      \
          "rotate to this fixed name, overwritten each time (default: logto.YYYYMMDD-HHMMSS)" }, \
        { "log-maxbackups", CONF_INT, CONF_FIELD(T, log_maxbackups, int64_t), 0, 1000000, NULL,  \
          "keep this many rotated logs, removing the oldest (0: keep all)" },                    \
        { "log-compress", CONF_BOOL, CONF_FIELD(T, log_compress, bool), 0, 0, NULL,              \
          "gzip rotated logs in the background" },                                               \
        { "log-reopen", CONF_BOOL, CONF_FIELD(T, log_reopen, bool), 0, 0, NULL,                  \
          "reopen logto on every reload" },                                                      \
        { "touch-logreopen", CONF_STRV, CONF_FIELD(T, touch_logreopen, char **), 0, 0, NULL,     \
          "reopen logto when this file is touched" },                                            \
        { "daemonize", CONF_STRING, CONF_FIELD(T, daemonize, char *), 0, 0, NULL,                \
          "run in the background, logging to this file (unless logto is set)" }

/* The directory the vassal runs in: relative paths after it (logto, wsgi-file) start there. */
#define VKEYS_WORKDIR_OPTIONS(T)                                                                 \
        { "chdir", CONF_STRING, CONF_FIELD(T, chdir, char *), 0, 0, NULL, "directory to run in" }

/* The log file as the vassal opens it: logto, else daemonize's file (NULL for both: the
 * vassal logs to its stderr), relative to the directory it runs in, which is chdir relative to
 * cwd (the directory it was started in). cwd NULL: unknown. Returns 1 with the absolute path
 * in *ret, 0 with *ret NULL when there is no log file, -EADDRNOTAVAIL with the path as far as
 * it is known in *ret when it is relative and cwd is needed but unknown, -ENOMEM. */
int vkeys_log_path(const char *logto, const char *daemonize, const char *chdir, const char *cwd,
                   char **ret);

/* path relative to dir (NULL, or path absolute: path as it is). NULL on OOM. */
char *vkeys_path_join(const char *dir, const char *path);
