/* SPDX-License-Identifier: MIT */
/* A vassal's log, followed across rotations (logfollow.h). Moved here from emperorctl's
 * `logs` so that the emperor's log tail for the dashboard is the same code. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logfollow.h"
#include "macro.h"
#include "vini.h"
#include "vkeys.h"

#define LOGFOLLOW_BLOCK (64u * 1024)

/* ---- where the log is ---- */

void logfollow_source_done(LogFollowSource *s) {
        free(s->path);
        free(s->backupname);
        *s = (LogFollowSource) {};
}

/* Moves a LogFollowSource out of a variable its cleanup would free. */
#define TAKE_SOURCE(s)                                   \
        ({                                               \
                LogFollowSource _s_ = (s);                    \
                (s) = (LogFollowSource) {};                   \
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

int logfollow_source_load(const char *ini_path, const char *reported, LogFollowSource *ret,
                          char **ret_error) {
        _cleanup_(logfollow_source_done) LogFollowSource s = {};
        _cleanup_free_ char *error = NULL, *base = NULL;
        VassalIni v;
        bool have_ini;
        int r;

        *ret = (LogFollowSource) {};
        if (ret_error)
                *ret_error = NULL;
        /* The emperor starts `vassal PATH`: the [uwsgi] and [vassal] sections, as here. */
        r = vini_load(&v, ini_path, &error);
        have_ini = r >= 0;
        if (r == -ENOMEM || (r < 0 && !reported)) {
                /* The vassal warns about its own config; we only say why we cannot read it. */
                if (r != -ENOMEM && ret_error)
                        *ret_error = TAKE_PTR(error);
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

int logfollow_tail_start(int fd, uint64_t end, uint64_t n, uint64_t *ret_start, uint64_t *ret_found) {
        _cleanup_free_ char *buf = NULL;
        uint64_t pos = end, count = 0;
        bool last_block = true;

        *ret_start = end;
        *ret_found = 0;
        if (n == 0 || end == 0)
                return 0;
        buf = malloc(LOGFOLLOW_BLOCK);
        if (!buf)
                return -ENOMEM;
        /* Backwards, a block at a time, counting newlines: the n-th one before the end (the
         * final newline terminates the last line, it does not start one) is where the last n
         * lines begin. */
        while (pos > 0) {
                size_t len = (size_t) MIN((uint64_t) LOGFOLLOW_BLOCK, pos);
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

bool logfollow_backup_parse(const char *base, const char *name, LogFollowBackupKey *ret) {
        size_t n = strlen(base);
        LogFollowBackupKey k = {};
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

int logfollow_backup_compare(const LogFollowBackupKey *a, const LogFollowBackupKey *b) {
        int c = strcmp(a->stamp, b->stamp);

        if (c != 0)
                return c;
        return a->n < b->n ? -1 : a->n > b->n;
}

/* ---- the follower ---- */

struct LogFollow {
        char *path;       /* the log file */
        char *dir, *base; /* its directory and name */
        char *backupname; /* log-backupname, or NULL */
        logfollow_write_t write;
        void *userdata;
        int watch_fd; /* inotify on dir, or -1 */
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
        LogFollowBackupKey key;
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
        return logfollow_backup_compare(&((const Backup *) a)->key, &((const Backup *) b)->key);
}

static bool same_file(const struct stat *st, dev_t dev, ino_t ino) {
        return st->st_dev == dev && st->st_ino == ino;
}

int logfollow_new(const char *path, const char *backupname, logfollow_write_t write,
                  void *userdata, LogFollow **ret) {
        LogFollow *f = calloc(1, sizeof(LogFollow));
        const char *slash = strrchr(path, '/');

        if (!f)
                return -ENOMEM;
        f->fd = f->backup_fd = -1;
        f->watch_fd = -1;
        f->write = write;
        f->userdata = userdata;
        f->path = strdup(path);
        f->dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        f->base = strdup(slash ? slash + 1 : path);
        f->backupname = backupname ? strdup(backupname) : NULL;
        f->buf = malloc(LOGFOLLOW_BLOCK);
        if (!f->path || !f->dir || !f->base || (backupname && !f->backupname) || !f->buf) {
                logfollow_free(f);
                return -ENOMEM;
        }
        *ret = f;
        return 0;
}

LogFollow *logfollow_free(LogFollow *f) {
        if (!f)
                return NULL;
        safe_close(f->fd);
        safe_close(f->backup_fd);
        safe_close(f->watch_fd);
        free(f->path);
        free(f->dir);
        free(f->base);
        free(f->backupname);
        free(f->buf);
        free(f);
        return NULL;
}

int logfollow_write_fd(const char *buf, size_t n, void *userdata) {
        int fd = (int) (intptr_t) userdata;

        while (n > 0) {
                ssize_t k = write(fd, buf, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Copies fd from *pos to end (UINT64_MAX: to its end), advancing *pos; -EAGAIN when the
 * writer asks for a pause and may_pause. */
static int copy_range(LogFollow *f, int fd, uint64_t *pos, uint64_t end, bool may_pause) {
        while (*pos < end) {
                size_t want = (size_t) MIN((uint64_t) LOGFOLLOW_BLOCK, end - *pos);
                ssize_t k = pread(fd, f->buf, want, (off_t) *pos);
                int r;

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return 0;
                r = f->write(f->buf, (size_t) k, f->userdata);
                if (r < 0)
                        return r;
                *pos += (uint64_t) k;
                /* Only the file being followed pauses: it is read on from *pos next time.
                 * The rest (a tail, missed backups) is bounded and read at once. */
                if (r > 0 && may_pause)
                        return -EAGAIN;
        }
        return 0;
}

static int open_log(int dirfd, const char *name) {
        /* O_NONBLOCK: a FIFO at the path must not hang the open. */
        return openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

/* The log's timestamped backups in its directory that are not compressed, oldest first. */
static int list_backups(const LogFollow *f, Backup **ret, size_t *ret_n) {
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
                LogFollowBackupKey key;
                struct stat st;

                if (!logfollow_backup_parse(f->base, de->d_name, &key) || key.gz)
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
static void remember_backup(LogFollow *f) {
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
static int tail_newest_backup(LogFollow *f, uint64_t n, dev_t dev, ino_t ino) {
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
        r = logfollow_tail_start(fd, (uint64_t) st.st_size, n, &start, &found);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        return copy_range(f, fd, &start, (uint64_t) st.st_size, false);
}

int logfollow_open(LogFollow *f, uint64_t n) {
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
        r = logfollow_tail_start(fd, end, n, &start, &found);
        for (int tries = 0; r == -ESTALE && tries < 3; tries++) {
                /* Truncated while we read it: once more, at its new size. */
                if (fstat(fd, &st) < 0)
                        return -errno;
                end = (uint64_t) st.st_size;
                r = logfollow_tail_start(fd, end, n, &start, &found);
        }
        if (r < 0)
                return r;
        if (found < n) {
                r = tail_newest_backup(f, n - found, st.st_dev, st.st_ino);
                if (r < 0)
                        return r;
        }
        r = copy_range(f, fd, &start, end, false);
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
static int drain(LogFollow *f) {
        struct stat st;

        if (fstat(f->fd, &st) < 0)
                return -errno;
        /* Shorter than what we read: truncated in place (copytruncate). Its start is new. */
        if (S_ISREG(st.st_mode) && (uint64_t) st.st_size < f->offset)
                f->offset = 0;
        return copy_range(f, f->fd, &f->offset, UINT64_MAX, true);
}

/* The whole file name in dirfd, if it is still there. */
static int copy_whole(LogFollow *f, int dirfd, const char *name) {
        _cleanup_close_ int fd = open_log(dirfd, name);
        uint64_t pos = 0;

        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        return copy_range(f, fd, &pos, UINT64_MAX, false);
}

/* The current file was rotated and the path now names the file new_st: writes the files
 * rotated in between, which we never saw at the path (several rotations can happen while we
 * sleep: the vassal rotates within one write burst). Timestamped backups sort in rotation
 * order, and ours is found among them by inode; everything after it and before the new file
 * is what we missed. With log-backupname each rotation overwrites the last backup, so only
 * the newest of the missed files survives: it is the one at backupname, if it is neither
 * ours nor what was there before. A missed backup compressed or pruned meanwhile is gone. */
static int read_missed(LogFollow *f, const struct stat *new_st) {
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

int logfollow_step(LogFollow *f) {
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

int logfollow_events(LogFollow *f) {
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        const char *base = f->base;
        size_t n = strlen(base);
        int relevant = 0;

        for (;;) {
                ssize_t k = read(f->watch_fd, buf, sizeof(buf));
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

/* One watch on the directory covers every case: IN_MODIFY of a file in it (the log, or its
 * last backup being finished), IN_CREATE and IN_MOVED_TO (a new file at the path, after a
 * rotation or at last), IN_MOVED_FROM and IN_DELETE (the file went; we read on what we
 * hold). Events only wake the caller: each step compares the path with the file held, so a
 * lost or coalesced event loses nothing. */
int logfollow_watch(LogFollow *f) {
        if (f->watch_fd >= 0)
                return f->watch_fd;
        _cleanup_close_ int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (inotify_add_watch(fd, f->dir,
                              IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                      IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) < 0)
                return -errno;
        f->watch_fd = TAKE_FD(fd);
        return f->watch_fd;
}
