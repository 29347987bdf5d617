/* SPDX-License-Identifier: MIT */
#pragma once

/* The vassal's log (DESIGN.md "Logging"): workers and an exec program write into a pipe, and
 * the master alone writes the `logto` file (or `daemonize`'s), so that rotation can never cut
 * a line. What arrives from the pipe is written whole lines at a time: a partial last line
 * waits in memory for its end (up to LOGGER_LINE_MAX; a longer line is written in pieces).
 *
 * log-maxsize rotates at a line boundary: the file is renamed to log-backupname (a fixed name,
 * overwritten, as in uWSGI) or to NAME.YYYYMMDD-HHMMSS (local time; -1, -2, ... when that name
 * is taken, so a backup is never overwritten), and a new file is opened. log-maxbackups keeps
 * the newest N of those, log-compress gzips them in the background (one `gzip -f` child at a
 * time, never blocking the loop). Reopening (SIGUSR1, touch-logreopen, log-reopen on reloads)
 * is for an outside logrotate that renamed the file: never copy-and-truncate.
 *
 * req-logger = file:PATH gives request lines a file of their own, rotated and reopened as the
 * log is; log-date prefixes the other lines with the date.
 *
 * Without a log file the log is our stderr (the supervisor's journal) and nothing rotates.
 * The master's own log lines go to stderr, which is the same file (dup2 after every open). */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "config.h"

/* Starts a request line in the pipe when req-logger or log-date is set (conn.c): the master
 * sends such lines to req-logger's file (or the log), and does not date them (they carry
 * their own date). Removed before writing. ASCII's record separator: no text starts so. */
#define LOGGER_REQ_MARK '\x1e'

/* The longest line kept whole; a longer one is written in pieces of this size. */
#define LOGGER_LINE_MAX (64 * 1024)

typedef struct Logger Logger;

/* Opens the log file (logto, else daemonize's file) in append mode and, with own_stdio, makes
 * it our stdout and stderr too. Called as root, before privileges are dropped. Without a file,
 * the logger writes to stderr. Returns 0 or -errno (logged). */
int logger_new(const VassalConfig *c, bool own_stdio, Logger **ret);
Logger *logger_free(Logger *l);
static inline void logger_freep(Logger **l) {
        logger_free(*l);
}

/* Starts reading the log pipe (its read end, O_NONBLOCK) from the loop, enlarges the pipe,
 * watches the touch-logreopen files and queues backups a previous run left uncompressed. */
int logger_attach(Logger *l, sd_event *e, int pipe_fd);

/* Called after each rotation with the backup's name (a log-rotate event for the emperor). */
void logger_on_rotate(Logger *l, void (*fn)(const char *backup, void *userdata), void *userdata);

/* Reads everything the pipe holds now and writes it, including a partial last line: before
 * an exit or an exec, when nothing will come to complete it. */
void logger_flush(Logger *l);

/* Drains the pipe, then reopens the file by name (a no-op without one). why: for the log. */
int logger_reopen(Logger *l, const char *why);

/* A reload (SIGHUP, SIGUSR2) happens: reopens the file when log-reopen is set. */
void logger_on_reload(Logger *l);

/* Bytes from the pipe (or anywhere): buffered up to the last newline, written, rotated as
 * configured. What logger_attach's reader does with each read; for tests. */
int logger_feed(Logger *l, const char *data, size_t n);

/* ---- pure helpers, exposed for the unit tests ---- */

/* "PATH.YYYYMMDD-HHMMSS" for n == 0, else "PATH.YYYYMMDD-HHMMSS-n". NULL on OOM. */
char *logger_backup_name(const char *path, const struct tm *tm, unsigned n);

typedef struct LoggerBackup {
        char stamp[16]; /* YYYYMMDD-HHMMSS */
        unsigned n;     /* the -n suffix; 0 for none */
        bool gz;
} LoggerBackup;

/* Whether file name `name` (no directory) is a backup of log file `base` (its file name):
 * base.YYYYMMDD-HHMMSS[-n][.gz]. Fills ret. */
bool logger_backup_parse(const char *base, const char *name, LoggerBackup *ret);

/* Orders backups oldest first: by stamp, then by n; compressed or not does not matter. */
int logger_backup_compare(const LoggerBackup *a, const LoggerBackup *b);

/* How many bytes of data, made of whole lines, fit in room bytes: up to the last newline
 * within the first room bytes; 0 when not even the first line fits. */
size_t logger_fit(const char *data, size_t n, size_t room);
