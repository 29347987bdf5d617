/* SPDX-License-Identifier: MIT */
#pragma once

/* emperorctl logs: the pieces of the command that do not talk to the emperor, for the unit
 * tests (tests/unit/test-ctl-logs.c).
 *
 * The vassal's log is one file (logto, else daemonize's file) that the vassal's master alone
 * writes, and rotates by renaming it (to log-backupname, or to NAME.YYYYMMDD-HHMMSS[-N],
 * vassal/logger.h) and opening a new file at the same path. A LogsFollower reads that path
 * the way `tail -F` would, but never loses a line to a rotation: it keeps the old file open
 * until it has read it to the end, and when several rotations happened while it was not
 * looking, it reads the backups made in between from the directory, in order. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Where a vassal's log is. */
typedef struct LogsSource {
        char *path;       /* absolute; NULL: the vassal logs to its stderr */
        char *backupname; /* log-backupname, absolute, or NULL (none, or not known) */
} LogsSource;

void logs_source_done(LogsSource *s);

/* The log of the vassal whose ini is ini_path. reported is the path the running vassal
 * itself reported in its stats (the emperor's status "log"; "" for its stderr), or NULL when
 * it did not (not running, or no report yet): then the path comes from the ini, read through
 * lib/vini.h (the vassal's own keys, sections and interpolation), as lib/vkeys.h resolves it,
 * which works only when it does not depend on the directory the vassal was started in.
 * log-backupname comes from the ini either way, relative to the directory the vassal runs in
 * (an absolute chdir, or what the reported path shows); unknown, it is left NULL.
 * Returns 0; -EADDRNOTAVAIL when the path is relative to a directory only the running vassal
 * knows (ret->path then holds it as far as it is known, for the message); -ENOMEM; or, when
 * the path had to come from the ini, the ini's -errno (its errors printed to stderr). */
int logs_source_load(const char *ini_path, const char *reported, LogsSource *ret);

/* "-n N": a count of lines, digits only. Returns 0 or -EINVAL. */
int logs_parse_count(const char *s, uint64_t *ret);

/* Where the last n lines of the first `end` bytes of fd start, reading backwards in blocks
 * (a gigabyte log costs a few reads). A last line without its newline counts as a line.
 * *ret_found is the number of lines from *ret_start to end: n, or fewer when the file has
 * fewer. Returns 0 or -errno. */
int logs_tail_start(int fd, uint64_t end, uint64_t n, uint64_t *ret_start, uint64_t *ret_found);

/* Whether name (no directory) is a timestamped backup of the log file named base:
 * base.YYYYMMDD-HHMMSS[-N][.gz]. Fills the key, for logs_backup_compare(). */
typedef struct LogsBackupKey {
        char stamp[16]; /* YYYYMMDD-HHMMSS */
        unsigned n;     /* the -N suffix, 0 for none */
        bool gz;
} LogsBackupKey;
bool logs_backup_parse(const char *base, const char *name, LogsBackupKey *ret);
/* Oldest first: by stamp, then by N (so -10 comes after -9). */
int logs_backup_compare(const LogsBackupKey *a, const LogsBackupKey *b);

typedef struct LogsFollower LogsFollower;

/* A follower of the log at path (log-backupname backupname, or NULL) writing to out_fd. */
int logs_follower_new(const char *path, const char *backupname, int out_fd, LogsFollower **ret);
LogsFollower *logs_follower_free(LogsFollower *f);
static inline void logs_follower_freep(LogsFollower **f) {
        logs_follower_free(*f);
}

/* Opens the log and writes its last n lines; when the file has fewer, the rest come from
 * the end of the newest uncompressed backup. Following starts where they end. Returns 1,
 * 0 when the file does not exist (yet: a later step reads it from its start), or -errno
 * (-EPIPE, -EINTR: writing to out_fd failed so). */
int logs_follower_open(LogsFollower *f, uint64_t n);

/* Writes what was appended since the last call, across any rotations since: the old file to
 * its end, the backups made after it, then the new file. A file shorter than what was read
 * was truncated: it is read again from its start. Returns 0 or -errno as above. */
int logs_follower_step(LogsFollower *f);
