/* SPDX-License-Identifier: MIT */
#pragma once

/* Following a vassal's log file, for `emperorctl logs -f` (ctl/logs.c) and the dashboard's
 * log tail (the emperor reads it for emperor-web: emperor/logtail.c). One implementation, so
 * both see the same lines across the same rotations.
 *
 * The vassal's log is one file (logto, else daemonize's file) that the vassal's master alone
 * writes, and rotates by renaming it (to log-backupname, or to NAME.YYYYMMDD-HHMMSS[-N],
 * vassal/logger.h) and opening a new file at the same path. A LogFollow reads that path the
 * way `tail -F` would, but never loses a line to a rotation: it keeps the old file open until
 * it has read it to the end, and when several rotations happened while it was not looking,
 * it reads the backups made in between from the directory, in order.
 *
 * It does not wait by itself: logfollow_watch() gives an inotify descriptor on the log's
 * directory to poll (or hand to sd-event); when it is readable, logfollow_events() says
 * whether the log may have changed, and logfollow_step() writes what did. Nothing blocks but
 * the reads of regular files and the writer the caller gives. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where a vassal's log is. */
typedef struct LogFollowSource {
        char *path;       /* absolute; NULL: the vassal logs to its stderr */
        char *backupname; /* log-backupname, absolute, or NULL (none, or not known) */
} LogFollowSource;

void logfollow_source_done(LogFollowSource *s);

/* The log of the vassal whose ini is ini_path. reported is the path the running vassal
 * itself reported in its stats (the emperor's status "log"; "" for its stderr), or NULL when
 * it did not (not running, or no report yet): then the path comes from the ini, read through
 * lib/vini.h (the vassal's own keys, sections and interpolation), as lib/vkeys.h resolves it,
 * which works only when it does not depend on the directory the vassal was started in.
 * log-backupname comes from the ini either way, relative to the directory the vassal runs in
 * (an absolute chdir, or what the reported path shows); unknown, it is left NULL.
 * Returns 0; -EADDRNOTAVAIL when the path is relative to a directory only the running vassal
 * knows (ret->path then holds it as far as it is known, for the message); -ENOMEM; or, when
 * the path had to come from the ini, the ini's -errno, with *ret_error (if not NULL) set to
 * the reason (free() it). */
int logfollow_source_load(const char *ini_path, const char *reported, LogFollowSource *ret,
                          char **ret_error);

/* Where the last n lines of the first `end` bytes of fd start, reading backwards in blocks
 * (a gigabyte log costs a few reads). A last line without its newline counts as a line.
 * *ret_found is the number of lines from *ret_start to end: n, or fewer when the file has
 * fewer. Returns 0 or -errno. */
int logfollow_tail_start(int fd, uint64_t end, uint64_t n, uint64_t *ret_start,
                         uint64_t *ret_found);

/* Whether name (no directory) is a timestamped backup of the log file named base:
 * base.YYYYMMDD-HHMMSS[-N][.gz]. Fills the key, for logfollow_backup_compare(). */
typedef struct LogFollowBackupKey {
        char stamp[16]; /* YYYYMMDD-HHMMSS */
        unsigned n;     /* the -N suffix, 0 for none */
        bool gz;
} LogFollowBackupKey;
bool logfollow_backup_parse(const char *base, const char *name, LogFollowBackupKey *ret);
/* Oldest first: by stamp, then by N (so -10 comes after -9). */
int logfollow_backup_compare(const LogFollowBackupKey *a, const LogFollowBackupKey *b);

/* Where the follower's bytes go: all of data (not cut at lines). Returns 0 to go on, 1 when
 * it took them but wants no more for now (its reader is behind: logfollow_step() then
 * returns -EAGAIN and the next step goes on from there), or -errno to stop. */
typedef int (*logfollow_write_t)(const char *data, size_t len, void *userdata);
/* A writer to the file descriptor (intptr_t) userdata, with write(2): all of it, retrying
 * on EINTR. */
int logfollow_write_fd(const char *data, size_t len, void *userdata);

typedef struct LogFollow LogFollow;

/* A follower of the log at path (log-backupname backupname, or NULL). */
int logfollow_new(const char *path, const char *backupname, logfollow_write_t write,
                  void *userdata, LogFollow **ret);
LogFollow *logfollow_free(LogFollow *f);
static inline void logfollow_freep(LogFollow **f) {
        logfollow_free(*f);
}

/* Watches the log's directory (before logfollow_open(), so nothing created after is
 * missed). Returns the inotify descriptor (nonblocking, owned by f) or -errno. */
int logfollow_watch(LogFollow *f);
/* Reads the queued events of the watch. Returns 1 when one may concern the log (a name
 * starting with its name: it, a backup of it; or a lost event), 0 when none does, -ENOENT
 * when the directory went away, -errno on a read error. */
int logfollow_events(LogFollow *f);

/* Opens the log and writes its last n lines; when the file has fewer, the rest come from
 * the end of the newest uncompressed backup. Following starts where they end. Returns 1,
 * 0 when the file does not exist (yet: a later step reads it from its start), or -errno
 * (the writer's). */
int logfollow_open(LogFollow *f, uint64_t n);

/* Writes what was appended since the last call, across any rotations since: the old file to
 * its end, the backups made after it, then the new file. A file shorter than what was read
 * was truncated: it is read again from its start. Returns 0, -EAGAIN when the writer asked
 * for a pause (call again later), or -errno as above. */
int logfollow_step(LogFollow *f);
