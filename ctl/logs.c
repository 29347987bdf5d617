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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <sqlite3.h>

#include "ctl.h"
#include "vini.h"
#include "vkeys.h"
#include "jsonutil.h"
#include "logs.h"
#include "query.h"
#include "macro.h"

#define LOGS_BLOCK (64u * 1024)
#define LOGS_DEFAULT_LINES 10
#define LOGS_USAGE "usage: emperorctl logs APP [-n N] [-f]"

/* Set by SIGINT/SIGTERM while following. A write blocked on a full pipe returns EINTR then
 * (no SA_RESTART), and out_write gives up instead of retrying. */
static volatile sig_atomic_t logs_stop;

/* ---- where the log is ---- */

void logs_source_done(LogsSource *s) {
        free(s->path);
        free(s->backupname);
        *s = (LogsSource) {};
}

/* Moves a LogsSource out of a variable its cleanup would free. */
#define TAKE_SOURCE(s)                                   \
        ({                                               \
                LogsSource _s_ = (s);                    \
                (s) = (LogsSource) {};                   \
                _s_;                                     \
        })

/* The directory the vassal runs in, as far as v and the path it reported (or NULL) tell:
 * an absolute chdir, else the reported path less its relative logto (the vassal joins the
 * two as written: lib/vkeys.c). NULL when unknown, or on OOM. */
static char *vassal_dir(const VassalIni *v, const char *reported) {
        const char *file = v->logto && v->logto[0] ? v->logto : v->daemonize;
        size_t n, f;

        if (v->chdir && v->chdir[0] == '/')
                return strdup(v->chdir);
        if (!reported || !reported[0] || !file || !file[0] || file[0] == '/')
                return NULL;
        n = strlen(reported);
        f = strlen(file);
        /* An ini edited since the vassal started may no longer match: then unknown. */
        if (n < f + 1 || reported[n - f - 1] != '/' || !streq(reported + n - f, file))
                return NULL;
        return n - f - 1 == 0 ? strdup("/") : strndup(reported, n - f - 1);
}

int logs_source_load(const char *ini_path, const char *reported, LogsSource *ret) {
        _cleanup_(logs_source_done) LogsSource s = {};
        _cleanup_free_ char *error = NULL, *base = NULL;
        VassalIni v;
        bool have_ini;
        int r;

        *ret = (LogsSource) {};
        /* The emperor starts `vassal PATH`: the [uwsgi] and [vassal] sections, as here. */
        r = vini_load(&v, ini_path, &error);
        have_ini = r >= 0;
        if (r == -ENOMEM || (r < 0 && !reported)) {
                /* The vassal warns about its own config; we only say why we cannot read it. */
                if (r != -ENOMEM)
                        fprintf(stderr, "emperorctl: %s\n", strempty(error));
                vini_done(&v);
                return r;
        }

        /* The running vassal's word, which no later edit of the ini changes. */
        if (reported)
                r = reported[0] && !(s.path = strdup(reported)) ? -ENOMEM : 0;
        else
                r = vkeys_log_path(v.logto, v.daemonize, v.chdir, NULL, &s.path);
        if (r == -EADDRNOTAVAIL || r == -ENOMEM) {
                vini_done(&v);
                *ret = TAKE_SOURCE(s);
                return r;
        }

        if (s.path && have_ini && v.log_backupname && v.log_backupname[0]) {
                /* A relative one from a directory we cannot name stays NULL: without it, only
                 * lines written between several rotations to it are lost to us. */
                bool absolute = v.log_backupname[0] == '/';
                base = absolute ? NULL : vassal_dir(&v, reported);
                if ((absolute || base) &&
                    !(s.backupname = vkeys_path_join(base, v.log_backupname))) {
                        vini_done(&v);
                        return -ENOMEM;
                }
        }
        vini_done(&v);
        *ret = TAKE_SOURCE(s);
        return 0;
}

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

/* ---- reading ---- */

/* Up to n bytes at offset; fewer only at the end of the file. Returns the count or -errno. */
static ssize_t pread_full(int fd, char *buf, size_t n, uint64_t offset) {
        size_t got = 0;

        while (got < n) {
                ssize_t k = pread(fd, buf + got, n - got, (off_t) (offset + got));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                got += (size_t) k;
        }
        return (ssize_t) got;
}

int logs_tail_start(int fd, uint64_t end, uint64_t n, uint64_t *ret_start, uint64_t *ret_found) {
        _cleanup_free_ char *buf = NULL;
        uint64_t pos = end, count = 0;
        bool last_block = true;

        *ret_start = end;
        *ret_found = 0;
        if (n == 0 || end == 0)
                return 0;
        buf = malloc(LOGS_BLOCK);
        if (!buf)
                return -ENOMEM;
        /* Backwards, a block at a time, counting newlines: the n-th one before the end (the
         * final newline terminates the last line, it does not start one) is where the last n
         * lines begin. */
        while (pos > 0) {
                size_t len = (size_t) MIN((uint64_t) LOGS_BLOCK, pos);
                uint64_t at = pos - len;
                ssize_t k = pread_full(fd, buf, len, at);
                if (k < 0)
                        return (int) k;
                if ((size_t) k != len)
                        return -ESTALE; /* shrunk under us: truncated */
                if (last_block && buf[len - 1] == '\n')
                        len--;
                last_block = false;
                while (len > 0) {
                        const char *nl = memrchr(buf, '\n', len);
                        if (!nl)
                                break;
                        len = (size_t) (nl - buf);
                        if (++count == n) {
                                *ret_start = at + len + 1;
                                *ret_found = n;
                                return 0;
                        }
                }
                pos = at;
        }
        /* The whole file: its first line had no newline before it. */
        *ret_start = 0;
        *ret_found = count + 1;
        return 0;
}

bool logs_backup_parse(const char *base, const char *name, LogsBackupKey *ret) {
        size_t n = strlen(base);
        LogsBackupKey k = {};
        const char *p;

        if (strncmp(name, base, n) != 0 || name[n] != '.')
                return false;
        p = name + n + 1;
        /* YYYYMMDD-HHMMSS */
        for (size_t i = 0; i < 15; i++)
                if (i == 8 ? p[i] != '-' : (p[i] < '0' || p[i] > '9'))
                        return false;
        memcpy(k.stamp, p, 15);
        p += 15;
        if (p[0] == '-') {
                /* 1 to 99999, no leading zero: what the vassal's logger names. */
                size_t digits = strspn(p + 1, "0123456789");
                if (digits == 0 || digits > 5 || p[1] == '0')
                        return false;
                for (size_t i = 1; i <= digits; i++)
                        k.n = k.n * 10 + (unsigned) (p[i] - '0');
                p += 1 + digits;
        }
        if (streq(p, ".gz"))
                k.gz = true;
        else if (p[0])
                return false;
        *ret = k;
        return true;
}

int logs_backup_compare(const LogsBackupKey *a, const LogsBackupKey *b) {
        int c = strcmp(a->stamp, b->stamp);

        if (c != 0)
                return c;
        return a->n < b->n ? -1 : a->n > b->n;
}

/* ---- the follower ---- */

struct LogsFollower {
        char *path;       /* the log file */
        char *dir, *base; /* its directory and name */
        char *backupname; /* log-backupname, or NULL */
        int out_fd;
        char *buf;

        int fd; /* the file being read: -1 until the path names one */
        dev_t dev;
        ino_t ino;
        uint64_t offset; /* read up to here */

        /* What was at backupname when fd was opened: anything else found there later is a
         * rotation we have not read. Held open, as fd is, so that its inode number cannot
         * be given to a new file while we compare by it. */
        int backup_fd;
        bool had_backup;
        dev_t backup_dev;
        ino_t backup_ino;
};

typedef struct Backup {
        LogsBackupKey key;
        dev_t dev;
        ino_t ino;
        char *name;
} Backup;

static void backups_free(Backup *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(b[i].name);
        free(b);
}

static int backup_compare(const void *a, const void *b) {
        return logs_backup_compare(&((const Backup *) a)->key, &((const Backup *) b)->key);
}

static bool same_file(const struct stat *st, dev_t dev, ino_t ino) {
        return st->st_dev == dev && st->st_ino == ino;
}

int logs_follower_new(const char *path, const char *backupname, int out_fd, LogsFollower **ret) {
        LogsFollower *f = calloc(1, sizeof(LogsFollower));
        const char *slash = strrchr(path, '/');

        if (!f)
                return -ENOMEM;
        f->fd = f->backup_fd = -1;
        f->out_fd = out_fd;
        f->path = strdup(path);
        f->dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        f->base = strdup(slash ? slash + 1 : path);
        f->backupname = backupname ? strdup(backupname) : NULL;
        f->buf = malloc(LOGS_BLOCK);
        if (!f->path || !f->dir || !f->base || (backupname && !f->backupname) || !f->buf) {
                logs_follower_free(f);
                return -ENOMEM;
        }
        *ret = f;
        return 0;
}

LogsFollower *logs_follower_free(LogsFollower *f) {
        if (!f)
                return NULL;
        safe_close(f->fd);
        safe_close(f->backup_fd);
        free(f->path);
        free(f->dir);
        free(f->base);
        free(f->backupname);
        free(f->buf);
        free(f);
        return NULL;
}

/* All of buf to the output. EINTR is a stop signal while following, else retried. */
static int out_write(LogsFollower *f, const char *buf, size_t n) {
        while (n > 0) {
                ssize_t k = write(f->out_fd, buf, n);
                if (k < 0 && errno == EINTR && !logs_stop)
                        continue;
                if (k < 0)
                        return -errno;
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Copies fd from *pos to end (UINT64_MAX: to its end), advancing *pos. */
static int copy_range(LogsFollower *f, int fd, uint64_t *pos, uint64_t end) {
        while (*pos < end) {
                size_t want = (size_t) MIN((uint64_t) LOGS_BLOCK, end - *pos);
                ssize_t k = pread(fd, f->buf, want, (off_t) *pos);
                int r;

                if (k < 0 && errno == EINTR && !logs_stop)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return 0;
                r = out_write(f, f->buf, (size_t) k);
                if (r < 0)
                        return r;
                *pos += (uint64_t) k;
        }
        return 0;
}

static int open_log(int dirfd, const char *name) {
        /* O_NONBLOCK: a FIFO at the path must not hang the open. */
        return openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

/* The log's timestamped backups in its directory that are not compressed, oldest first. */
static int list_backups(const LogsFollower *f, Backup **ret, size_t *ret_n) {
        DIR *d = opendir(f->dir);
        Backup *list = NULL;
        size_t n = 0, size = 0;
        struct dirent *de;
        int r = 0;

        *ret = NULL;
        *ret_n = 0;
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                LogsBackupKey key;
                struct stat st;

                if (!logs_backup_parse(f->base, de->d_name, &key) || key.gz)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
                        continue; /* pruned or compressed since */
                if (n == size) {
                        size_t nsize = size ? size * 2 : 16;
                        Backup *nlist = reallocarray(list, nsize, sizeof(Backup));
                        if (!nlist) {
                                r = -ENOMEM;
                                break;
                        }
                        list = nlist;
                        size = nsize;
                }
                list[n] = (Backup) { .key = key, .dev = st.st_dev, .ino = st.st_ino,
                                     .name = strdup(de->d_name) };
                if (!list[n].name) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        if (r < 0) {
                backups_free(list, n);
                return r;
        }
        if (n > 0)
                qsort(list, n, sizeof(Backup), backup_compare);
        *ret = list;
        *ret_n = n;
        return 0;
}

/* Notes what backupname holds now, as fd is (re)opened. */
static void remember_backup(LogsFollower *f) {
        struct stat st;

        f->backup_fd = safe_close(f->backup_fd);
        f->had_backup = false;
        if (!f->backupname)
                return;
        f->backup_fd = open_log(AT_FDCWD, f->backupname);
        /* Unreadable, it is still compared by inode, with the small risk of reuse. */
        f->had_backup = f->backup_fd >= 0 ? fstat(f->backup_fd, &st) >= 0
                                          : stat(f->backupname, &st) >= 0;
        if (f->had_backup) {
                f->backup_dev = st.st_dev;
                f->backup_ino = st.st_ino;
        }
}

/* Writes the last n lines of the newest backup other than the file (dev, ino). */
static int tail_newest_backup(LogsFollower *f, uint64_t n, dev_t dev, ino_t ino) {
        _cleanup_close_ int fd = -1;
        uint64_t start, found;
        struct stat st;
        int r;

        if (f->backupname) {
                fd = open_log(AT_FDCWD, f->backupname);
        } else {
                Backup *list;
                size_t count, k;
                r = list_backups(f, &list, &count);
                if (r < 0)
                        return r == -ENOMEM ? r : 0; /* an unreadable directory: no backup */
                k = count;
                while (k > 0 && list[k - 1].dev == dev && list[k - 1].ino == ino)
                        k--;
                if (k > 0) {
                        int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (dfd >= 0) {
                                fd = open_log(dfd, list[k - 1].name);
                                safe_close(dfd);
                        }
                }
                backups_free(list, count);
        }
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || same_file(&st, dev, ino))
                return 0;
        r = logs_tail_start(fd, (uint64_t) st.st_size, n, &start, &found);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        return copy_range(f, fd, &start, (uint64_t) st.st_size);
}

int logs_follower_open(LogsFollower *f, uint64_t n) {
        _cleanup_close_ int fd = open_log(AT_FDCWD, f->path);
        uint64_t start, found, end;
        struct stat st;
        int r;

        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        remember_backup(f);
        end = S_ISREG(st.st_mode) ? (uint64_t) st.st_size : 0;
        r = logs_tail_start(fd, end, n, &start, &found);
        for (int tries = 0; r == -ESTALE && tries < 3; tries++) {
                /* Truncated while we read it: once more, at its new size. */
                if (fstat(fd, &st) < 0)
                        return -errno;
                end = (uint64_t) st.st_size;
                r = logs_tail_start(fd, end, n, &start, &found);
        }
        if (r < 0)
                return r;
        if (found < n) {
                r = tail_newest_backup(f, n - found, st.st_dev, st.st_ino);
                if (r < 0)
                        return r;
        }
        r = copy_range(f, fd, &start, end);
        if (r < 0)
                return r;
        safe_close(f->fd);
        f->fd = TAKE_FD(fd);
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->offset = start;
        return 1;
}

/* Writes what the current file gained since the last read. */
static int drain(LogsFollower *f) {
        struct stat st;

        if (fstat(f->fd, &st) < 0)
                return -errno;
        /* Shorter than what we read: truncated in place (copytruncate). Its start is new. */
        if (S_ISREG(st.st_mode) && (uint64_t) st.st_size < f->offset)
                f->offset = 0;
        return copy_range(f, f->fd, &f->offset, UINT64_MAX);
}

/* The whole file name in dirfd, if it is still there. */
static int copy_whole(LogsFollower *f, int dirfd, const char *name) {
        _cleanup_close_ int fd = open_log(dirfd, name);
        uint64_t pos = 0;

        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        return copy_range(f, fd, &pos, UINT64_MAX);
}

/* The current file was rotated and the path now names the file new_st: writes the files
 * rotated in between, which we never saw at the path (several rotations can happen while we
 * sleep: the vassal rotates within one write burst). Timestamped backups sort in rotation
 * order, and ours is found among them by inode; everything after it and before the new file
 * is what we missed. With log-backupname each rotation overwrites the last backup, so only
 * the newest of the missed files survives: it is the one at backupname, if it is neither
 * ours nor what was there before. A missed backup compressed or pruned meanwhile is gone. */
static int read_missed(LogsFollower *f, const struct stat *new_st) {
        _cleanup_close_ int dfd = -1;
        struct stat st;
        Backup *list;
        size_t n, ours = SIZE_MAX, until;
        int r = 0;

        if (f->backupname) {
                if (stat(f->backupname, &st) < 0 || same_file(&st, f->dev, f->ino) ||
                    same_file(&st, new_st->st_dev, new_st->st_ino) ||
                    (f->had_backup && same_file(&st, f->backup_dev, f->backup_ino)))
                        return 0;
                return copy_whole(f, AT_FDCWD, f->backupname);
        }

        r = list_backups(f, &list, &n);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        until = n;
        for (size_t i = 0; i < n; i++) {
                if (list[i].dev == f->dev && list[i].ino == f->ino)
                        ours = i;
                /* The new file rotated too, since we opened it: what follows it is later. */
                if (list[i].dev == new_st->st_dev && list[i].ino == new_st->st_ino && i < until)
                        until = i;
        }
        if (ours != SIZE_MAX && ours + 1 < until) {
                dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        r = -errno;
                for (size_t i = ours + 1; r >= 0 && i < until; i++)
                        r = copy_whole(f, dfd, list[i].name);
        }
        backups_free(list, n);
        return r;
}

int logs_follower_step(LogsFollower *f) {
        for (;;) {
                _cleanup_close_ int fd = -1;
                struct stat st;
                int r;

                if (f->fd >= 0) {
                        r = drain(f);
                        if (r < 0)
                                return r;
                }
                /* Opened before it is compared, so a file that rotates away after this is
                 * still the one we hold, and read_missed() finds it by inode. */
                fd = open_log(AT_FDCWD, f->path);
                if (fd < 0)
                        return errno == ENOENT ? 0 : -errno; /* wait for it to appear */
                if (fstat(fd, &st) < 0)
                        return -errno;
                if (f->fd >= 0 && same_file(&st, f->dev, f->ino))
                        return 0;
                if (S_ISDIR(st.st_mode))
                        return -EISDIR;
                if (f->fd >= 0) {
                        /* Rotated: the vassal renames the file, then opens the new one, so
                         * whatever it wrote to the old one is there now. */
                        r = drain(f);
                        if (r < 0)
                                return r;
                        r = read_missed(f, &st);
                        if (r < 0)
                                return r;
                }
                safe_close(f->fd);
                f->fd = TAKE_FD(fd);
                f->dev = st.st_dev;
                f->ino = st.st_ino;
                f->offset = 0;
                remember_backup(f);
        }
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

static int logs_stop_pipe[2] = { -1, -1 };

static void on_stop_signal(int sig) {
        int saved = errno;
        ssize_t k;

        logs_stop = sig;
        k = write(logs_stop_pipe[1], "", 1); /* wakes the poll; a full pipe is awake already */
        (void) k;
        errno = saved;
}

/* Reads the queued inotify events. Returns 1 when one may concern the log (a name starting
 * with its name: it, a backup of it; or a lost event), 0 when none does, -ENOENT when the
 * directory went away, -errno on a read error. */
static int read_events(int fd, const char *base) {
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        size_t n = strlen(base);
        int relevant = 0;

        for (;;) {
                ssize_t k = read(fd, buf, sizeof(buf));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return relevant;
                if (k < 0)
                        return -errno;
                for (char *p = buf; p < buf + k;) {
                        const struct inotify_event *e = (const struct inotify_event *) p;
                        if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
                                return -ENOENT;
                        if ((e->mask & IN_Q_OVERFLOW) ||
                            (e->len > 0 && strncmp(e->name, base, n) == 0))
                                relevant = 1;
                        p += sizeof(struct inotify_event) + e->len;
                }
        }
}

/* Prints what is appended to the log until a signal or a closed output. One watch on the
 * directory covers every case: IN_MODIFY of a file in it (the log, or its last backup being
 * finished), IN_CREATE and IN_MOVED_TO (a new file at the path, after a rotation or at
 * last), IN_MOVED_FROM and IN_DELETE (the file went; we read on what we hold). Events only
 * wake us: each step compares the path with the file we hold, so a lost or coalesced event
 * loses nothing. */
static int follow(LogsFollower *f, int inotify_fd, const char *path, const char *base) {
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
                        int r = logs_follower_step(f);
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
                        int r = read_events(inotify_fd, base);
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
        _cleanup_(logs_follower_freep) LogsFollower *f = NULL;
        _cleanup_(logs_source_done) LogsSource src = {};
        _cleanup_free_ char *ini = NULL, *reported = NULL;
        _cleanup_close_ int inotify_fd = -1;
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
        r = logs_source_load(ini, reported, &src);
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

        r = logs_follower_new(src.path, src.backupname, STDOUT_FILENO, &f);
        if (r < 0)
                return ctl_err(CTL_EXIT_FAILED, "out of memory");
        r = setup_signals(following);
        if (r < 0)
                return ctl_err(CTL_EXIT_FAILED, "cannot set up signals: %s", strerror(-r));
        if (following) {
                /* Watched before the file is opened, so nothing created after is missed. */
                _cleanup_free_ char *dir = NULL;
                const char *slash = strrchr(src.path, '/');
                dir = slash ? strndup(src.path, slash == src.path ? 1 : (size_t) (slash - src.path))
                            : strdup(".");
                if (!dir)
                        return ctl_err(CTL_EXIT_FAILED, "out of memory");
                inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                if (inotify_fd < 0)
                        return ctl_err(CTL_EXIT_FAILED, "cannot create an inotify instance: %m");
                if (inotify_add_watch(inotify_fd, dir,
                                      IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
                                              IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |
                                              IN_ONLYDIR) < 0)
                        return ctl_err(CTL_EXIT_FAILED, "cannot watch '%s' for the log of vassal "
                                       "'%s': %m", dir, inv->app);
        }

        r = logs_follower_open(f, n);
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
        const char *base = strrchr(src.path, '/');
        return follow(f, inotify_fd, src.path, base ? base + 1 : src.path);
}
