/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "logger.h"

/* Room for a pipe's worth of bytes in one read(), after a pending partial line. */
#define LOGGER_BUF_SIZE (1024 * 1024 + LOGGER_LINE_MAX)
/* The pipe's capacity (F_SETPIPE_SZ): 1 MiB, /proc/sys/fs/pipe-max-size's default. */
#define LOGGER_PIPE_SIZE (1024 * 1024)
/* Reads per wakeup: a writer faster than the disk cannot keep the loop from its other work. */
#define LOGGER_READS_PER_WAKEUP 16
#define LOGGER_FLUSH_READS 256
/* touch gives CREATE, ATTRIB and CLOSE_WRITE in a row: one reopen for them all. */
#define LOGGER_TOUCH_DEBOUNCE_USEC (100 * 1000ULL)
/* Backups waiting for gzip; past this they stay uncompressed (said once each). */
#define LOGGER_COMPRESS_QUEUE_MAX 64
/* Lines routed one by one (req-logger, log-date) are written in runs of at most this. */
#define LOGGER_OUT_SIZE (64 * 1024)
/* NAME.STAMP-1 ... NAME.STAMP-N within one second, at most. */
#define LOGGER_BACKUP_TRIES 100000

extern char **environ;

typedef struct TouchWatch {
        Logger *l;
        char *path;       /* as configured, for the log */
        const char *name; /* its file name, within path */
        sd_event_source *src;
} TouchWatch;

struct Logger {
        char *path; /* the log file; NULL: stderr, and nothing rotates */
        char *backupname;
        uint64_t maxsize;
        int64_t maxbackups;
        bool compress;
        bool reopen_on_reload;
        bool own_stdio;
        int fd;            /* the log file, O_APPEND; -1 without one */
        uint64_t retry_at; /* after a failed rotation: no new try before the file is this big */
        char last_stamp[32]; /* the latest backup's name: its stamp and number */
        unsigned last_n;

        sd_event *event;
        int pipe_fd; /* the read end; the master owns it */
        sd_event_source *pipe_src;
        sd_event_source *coalesce_timer;
        uint64_t coalesce_usec;
        char *buf;      /* LOGGER_BUF_SIZE: a partial line (pending bytes), then what is read */
        size_t pending;

        char **queue; /* backups waiting for gzip, oldest first */
        size_t n_queue;
        char *gzip_path; /* the one gzip works on */
        sd_event_source *gzip_src;

        void (*on_rotate)(const char *backup, void *userdata);
        void *on_rotate_userdata;

        TouchWatch *touch;
        size_t n_touch;
        sd_event_source *touch_timer;
        const char *touched; /* which touch file fired, for the log */

        /* Lines by kind: request lines come marked (LOGGER_REQ_MARK) when req-logger or
         * log-date is set. They go to req (req-logger's file, a Logger of its own with the
         * same rotation) or unmarked here; log-date dates the other lines. */
        Logger *req;
        bool date;
        char *date_format; /* NULL: ctime's form and " - ", as uWSGI */
        time_t date_sec;
        char date_text[256];
        size_t date_len;
        char *out; /* LOGGER_OUT_SIZE: a run of lines for one destination */
        size_t out_len;
        Logger *out_dst;
};

/* ---- pure helpers ---- */

char *logger_backup_name(const char *path, const struct tm *tm, unsigned n) {
        char stamp[32];
        char *s;
        int k;

        if (strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", tm) == 0)
                return NULL;
        if (n == 0)
                k = asprintf(&s, "%s.%s", path, stamp);
        else
                k = asprintf(&s, "%s.%s-%u", path, stamp, n);
        return k < 0 ? NULL : s;
}

bool logger_backup_parse(const char *base, const char *name, LoggerBackup *ret) {
        size_t b = strlen(base);
        LoggerBackup k = {};

        if (strncmp(name, base, b) != 0 || name[b] != '.')
                return false;
        const char *s = name + b + 1;
        for (size_t i = 0; i < 15; i++)
                if (i == 8 ? s[i] != '-' : !isdigit((unsigned char) s[i]))
                        return false;
        memcpy(k.stamp, s, 15);
        s += 15;
        if (*s == '-') {
                s++;
                /* 1 to 99999, no leading zero: what logger_backup_name() makes. */
                if (*s < '1' || *s > '9')
                        return false;
                for (size_t i = 0; isdigit((unsigned char) *s); i++, s++) {
                        if (i >= 5)
                                return false;
                        k.n = k.n * 10 + (unsigned) (*s - '0');
                }
        }
        if (streq(s, ".gz")) {
                k.gz = true;
                s += 3;
        }
        if (*s)
                return false;
        *ret = k;
        return true;
}

int logger_backup_compare(const LoggerBackup *a, const LoggerBackup *b) {
        int c = strcmp(a->stamp, b->stamp);
        if (c != 0)
                return c;
        return a->n < b->n ? -1 : a->n > b->n;
}

size_t logger_fit(const char *data, size_t n, size_t room) {
        if (n <= room)
                return n;
        const char *nl = memrchr(data, '\n', room);
        return nl ? (size_t) (nl - data) + 1 : 0;
}

/* ---- the file ---- */

/* write() to the end; a log that fails (disk full) drops the rest: there is nowhere to say so
 * that would not fail the same way. */
static void write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                p += k;
                n -= (size_t) k;
        }
}

/* Opens the file by name; for the master it becomes stdout and stderr as well, so its own
 * lines (and gzip's) land in the same file. */
static int logger_open(Logger *l) {
        int fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0 && (errno == EACCES || errno == EPERM) && l->own_stdio) {
                /* A master re-executed by a reload after dropping privileges may not open the
                 * file root opened; the one it inherited as stderr will do if it is the same. */
                struct stat a, b;
                if (stat(l->path, &a) >= 0 && fstat(STDERR_FILENO, &b) >= 0 &&
                    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                        fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
                else
                        errno = EACCES;
        }
        if (fd < 0)
                return -errno;
        if (l->own_stdio) {
                (void) dup2(fd, STDOUT_FILENO);
                (void) dup2(fd, STDERR_FILENO);
        }
        safe_close(l->fd);
        l->fd = fd;
        l->retry_at = 0;
        return 0;
}

static uint64_t logger_size(const Logger *l) {
        struct stat st;
        return fstat(l->fd, &st) < 0 ? 0 : (uint64_t) st.st_size;
}

/* Splits a path into its directory ("." for none) and file name. */
static int split_path(const char *path, char **ret_dir, const char **ret_base) {
        const char *slash = strrchr(path, '/');
        char *dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path))
                          : strdup(".");
        if (!dir)
                return -ENOMEM;
        *ret_dir = dir;
        *ret_base = slash ? slash + 1 : path;
        return 0;
}

/* Renames the log to the first free PATH.STAMP[-n]: free means neither it nor its .gz exists,
 * and RENAME_NOREPLACE makes sure nothing appeared since we looked. Within one second the
 * numbers only grow (l->last_*): a name log-maxbackups freed is not taken again, or a newer
 * backup would sort as the oldest. */
static int backup_rename(Logger *l, char **ret) {
        time_t now = time(NULL);
        struct tm tm;
        char stamp[32];
        unsigned first = 0;

        if (!localtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm) == 0)
                return -EINVAL;
        if (streq(stamp, l->last_stamp))
                first = l->last_n + 1;
        for (unsigned n = first; n < LOGGER_BACKUP_TRIES; n++) {
                const char *path = l->path;
                _cleanup_free_ char *name = logger_backup_name(path, &tm, n), *gz = NULL;
                if (!name || asprintf(&gz, "%s.gz", name) < 0)
                        return -ENOMEM;
                if (access(gz, F_OK) == 0)
                        continue;
                if (renameat2(AT_FDCWD, path, AT_FDCWD, name, RENAME_NOREPLACE) < 0) {
                        if (errno == EEXIST)
                                continue;
                        if (errno != EINVAL && errno != ENOSYS)
                                return -errno;
                        /* A file system without RENAME_NOREPLACE: we are its only writer. */
                        if (access(name, F_OK) == 0)
                                continue;
                        if (rename(path, name) < 0)
                                return -errno;
                }
                (void) snprintf(l->last_stamp, sizeof(l->last_stamp), "%s", stamp);
                l->last_n = n;
                *ret = TAKE_PTR(name);
                return 0;
        }
        return -EEXIST;
}

static void logger_compress_queue(Logger *l, const char *path);
static void logger_prune(Logger *l);

/* Renames the full file away and opens a fresh one. On failure we keep writing where we are,
 * and try again once the file has grown by another log-maxsize. */
static int logger_rotate(Logger *l, uint64_t size) {
        _cleanup_free_ char *name = NULL;
        int r = 0;

        if (l->backupname) {
                name = strdup(l->backupname);
                if (!name)
                        r = -ENOMEM;
                else if (rename(l->path, name) < 0)
                        r = -errno;
        } else
                r = backup_rename(l, &name);
        if (r == -ENOENT) {
                /* Removed under us: the fresh file is all we need. */
                log_warning("log file '%s' vanished, opening it again", l->path);
                name = mfree(name);
        } else if (r < 0) {
                l->retry_at = size + l->maxsize;
                return log_warning_errno(r, "Failed to rotate '%s': %m, retrying after another "
                                         "%llu bytes", l->path, (unsigned long long) l->maxsize);
        }
        r = logger_open(l);
        if (r < 0) {
                /* We write on into the renamed file; the next try finds no file and opens. */
                l->retry_at = size + l->maxsize;
                return log_warning_errno(r, "Failed to open '%s' after rotating it: %m", l->path);
        }
        if (!name)
                return 0;
        log_info("log rotated to '%s'", name);
        if (l->on_rotate)
                l->on_rotate(name, l->on_rotate_userdata);
        if (l->compress)
                logger_compress_queue(l, name);
        if (l->maxbackups > 0 && !l->backupname)
                logger_prune(l);
        return 0;
}

/* Writes data (whole lines, or a piece of an overlong one) to the log, rotating between lines
 * so no file grows past log-maxsize unless a single line is larger: that line goes alone into
 * a fresh file. One write() per run of lines. */
static void logger_write(Logger *l, const char *data, size_t n) {
        if (l->fd < 0) {
                write_all(STDERR_FILENO, data, n);
                return;
        }
        while (l->maxsize > 0 && n > 0) {
                uint64_t size = logger_size(l);
                size_t room = size < l->maxsize ? (size_t) (l->maxsize - size) : 0;
                size_t k = logger_fit(data, n, room);
                if (k == 0) {
                        if (size > 0 && size >= l->retry_at && logger_rotate(l, size) >= 0)
                                continue;
                        if (size > 0) {
                                k = n; /* rotation failed: everything into the current file */
                        } else {
                                const char *nl = memchr(data, '\n', n);
                                k = nl ? (size_t) (nl - data) + 1 : n;
                        }
                }
                write_all(l->fd, data, k);
                data += k;
                n -= k;
        }
        if (n > 0)
                write_all(l->fd, data, n);
}

/* log-date's prefix for this second. */
static const char *logger_date(Logger *l, size_t *ret_len) {
        time_t now = time(NULL);
        if (now != l->date_sec || l->date_len == 0) {
                struct tm tm;
                size_t k = 0;
                l->date_sec = now;
                if (localtime_r(&now, &tm)) {
                        if (l->date_format) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                                /* The user's format, by design. */
                                k = strftime(l->date_text, sizeof(l->date_text), l->date_format,
                                             &tm);
#pragma GCC diagnostic pop
                        } else
                                k = strftime(l->date_text, sizeof(l->date_text),
                                             "%a %b %e %H:%M:%S %Y - ", &tm);
                }
                l->date_len = k;
        }
        *ret_len = l->date_len;
        return l->date_text;
}

static void logger_out_flush(Logger *l) {
        if (l->out_len > 0)
                logger_write(l->out_dst, l->out, l->out_len);
        l->out_len = 0;
}

static void logger_out_add(Logger *l, Logger *dst, const char *prefix, size_t prefix_len,
                           const char *line, size_t n) {
        if (dst != l->out_dst || l->out_len + prefix_len + n > LOGGER_OUT_SIZE) {
                logger_out_flush(l);
                l->out_dst = dst;
        }
        if (prefix_len + n > LOGGER_OUT_SIZE) {
                /* Longer than a run: written as it is, after its prefix. */
                logger_write(dst, prefix, prefix_len);
                logger_write(dst, line, n);
                return;
        }
        memcpy(l->out + l->out_len, prefix, prefix_len);
        memcpy(l->out + l->out_len + prefix_len, line, n);
        l->out_len += prefix_len + n;
}

/* Writes lines (or a piece of an overlong one), each where it belongs: without req-logger,
 * log-date or a marked line in sight, all at once as they came. */
static void logger_route(Logger *l, const char *data, size_t n) {
        if (!l->req && !l->date && !memchr(data, LOGGER_REQ_MARK, n)) {
                logger_write(l, data, n);
                return;
        }
        for (const char *p = data, *end = data + n; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) + 1 : (size_t) (end - p);
                size_t prefix_len = 0;
                const char *prefix = "";
                if (*p == LOGGER_REQ_MARK)
                        logger_out_add(l, l->req ?: l, "", 0, p + 1, len - 1);
                else {
                        if (l->date)
                                prefix = logger_date(l, &prefix_len);
                        logger_out_add(l, l, prefix, prefix_len, p, len);
                }
                p += len;
        }
        logger_out_flush(l);
}

/* n bytes were just read into buf after the pending partial line: writes every whole line and
 * keeps the rest for the next read. */
static void logger_consume(Logger *l, size_t n) {
        size_t total = l->pending + n;
        const char *nl = memrchr(l->buf, '\n', total);
        size_t whole = nl ? (size_t) (nl - l->buf) + 1 : 0;

        if (whole > 0)
                logger_route(l, l->buf, whole);
        size_t rest = total - whole;
        if (rest >= LOGGER_LINE_MAX) {
                /* A line this long is written in pieces (documented): the buffer is finite. */
                logger_route(l, l->buf + whole, rest);
                rest = 0;
        } else if (rest > 0 && whole > 0)
                memmove(l->buf, l->buf + whole, rest);
        l->pending = rest;
}

int logger_feed(Logger *l, const char *data, size_t n) {
        while (n > 0) {
                size_t k = MIN(n, LOGGER_BUF_SIZE - l->pending);
                memcpy(l->buf + l->pending, data, k);
                logger_consume(l, k);
                data += k;
                n -= k;
        }
        return 0;
}

/* Reads what the pipe holds, in big chunks (a few reads at most, so a flood cannot starve the
 * loop). Returns the bytes read. */
static size_t logger_drain(Logger *l, unsigned max_reads) {
        size_t total = 0;

        for (unsigned i = 0; l->pipe_fd >= 0 && i < max_reads; i++) {
                ssize_t k = read(l->pipe_fd, l->buf + l->pending, LOGGER_BUF_SIZE - l->pending);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                total += (size_t) k;
                logger_consume(l, (size_t) k);
        }
        return total;
}

void logger_flush(Logger *l) {
        if (!l)
                return;
        (void) logger_drain(l, LOGGER_FLUSH_READS);
        if (l->pending > 0) {
                logger_route(l, l->buf, l->pending);
                l->pending = 0;
        }
}

int logger_reopen(Logger *l, const char *why) {
        if (!l || (!l->path && !(l->req && l->req->path)))
                return 0;
        /* What is in the pipe now was logged before the reopen was asked for. */
        (void) logger_drain(l, LOGGER_READS_PER_WAKEUP);
        int r = l->path ? logger_open(l) : 0;
        if (r < 0)
                return log_warning_errno(r, "Failed to reopen '%s' (%s): %m, keeping the old file",
                                         l->path, why);
        log_info("log reopened (%s)", why);
        if (l->req && l->req->path) {
                r = logger_open(l->req);
                if (r < 0)
                        return log_warning_errno(r, "Failed to reopen '%s' (%s): %m, keeping "
                                                 "the old file", l->req->path, why);
        }
        return 0;
}

void logger_on_reload(Logger *l) {
        if (l && l->reopen_on_reload)
                (void) logger_reopen(l, "log-reopen");
}

/* ---- reading the pipe ---- */

/* Every write into a pipe that a reader sleeps on wakes the reader: one wakeup, read and write
 * per request line (70k a second under wrk) cost the master a good part of a core and the
 * workers their latency. So after a read the master stops listening and comes back on a timer
 * while lines keep coming: the workers' writes land in the big pipe without waking anyone, and
 * the master writes them out in bursts. The delay is the time 100 MB/s of lines takes to fill
 * a quarter of the pipe (2.6 ms for 1 MiB), so writers never wait for room. Once a read finds
 * nothing, the master listens again, and the next line is written at once. */
static void logger_coalesce(Logger *l) {
        if (sd_event_source_set_enabled(l->pipe_src, SD_EVENT_OFF) < 0 ||
            sd_event_source_set_time_relative(l->coalesce_timer, l->coalesce_usec) < 0 ||
            sd_event_source_set_enabled(l->coalesce_timer, SD_EVENT_ONESHOT) < 0)
                (void) sd_event_source_set_enabled(l->pipe_src, SD_EVENT_ON);
}

static int on_pipe(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Logger *l = userdata;
        (void) s;
        (void) fd;
        (void) revents;
        if (logger_drain(l, LOGGER_READS_PER_WAKEUP) > 0)
                logger_coalesce(l);
        return 0;
}

static int on_coalesce(sd_event_source *s, uint64_t usec, void *userdata) {
        Logger *l = userdata;
        (void) s;
        (void) usec;
        if (logger_drain(l, LOGGER_READS_PER_WAKEUP) > 0)
                logger_coalesce(l);
        else
                (void) sd_event_source_set_enabled(l->pipe_src, SD_EVENT_ON);
        return 0;
}

/* ---- backups: compress, prune ---- */

static int on_gzip_exit(sd_event_source *s, const siginfo_t *si, void *userdata);

static int logger_spawn_gzip(Logger *l, const char *path) {
        char *argv[] = { (char *) "gzip", (char *) "-f", (char *) "--", (char *) path, NULL };
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        pid_t pid;

        /* Our mask blocks the signals sd-event reads and SIGPIPE is ignored: both survive exec,
         * gzip gets the defaults. stdout and stderr are the log. */
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        int r = posix_spawnp(&pid, "gzip", &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return log_warning_errno(r, "Failed to run gzip on '%s': %m, leaving it "
                                         "uncompressed", path);
        r = sd_event_add_child(l->event, &l->gzip_src, pid, WEXITED, on_gzip_exit, l);
        if (r < 0) {
                /* Without a child source nobody would reap it. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return log_warning_errno(r, "Failed to watch gzip for '%s': %m", path);
        }
        log_debug("compressing '%s' (gzip pid %d)", path, (int) pid);
        return 0;
}

/* One gzip at a time: the machine is the app's, not the log's. */
static void logger_compress_next(Logger *l) {
        while (l->event && !l->gzip_src && l->n_queue > 0) {
                char *path = l->queue[0];
                memmove(l->queue, l->queue + 1, --l->n_queue * sizeof(char *));
                /* Pruned while it waited. */
                if (access(path, F_OK) < 0 || logger_spawn_gzip(l, path) < 0) {
                        free(path);
                        continue;
                }
                l->gzip_path = path;
        }
}

static void logger_compress_queue(Logger *l, const char *path) {
        if (l->n_queue >= LOGGER_COMPRESS_QUEUE_MAX) {
                log_warning("%d backups wait for gzip already, leaving '%s' uncompressed",
                            LOGGER_COMPRESS_QUEUE_MAX, path);
                return;
        }
        char **q = reallocarray(l->queue, l->n_queue + 1, sizeof(char *));
        if (!q) {
                log_oom();
                return;
        }
        l->queue = q;
        if (!(l->queue[l->n_queue] = strdup(path))) {
                log_oom();
                return;
        }
        l->n_queue++;
        logger_compress_next(l);
}

static int on_gzip_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Logger *l = userdata;

        /* gzip exits 2 for a warning: the file is compressed all the same. */
        if (si->si_code != CLD_EXITED)
                log_warning("gzip of '%s' killed by signal %s, leaving it uncompressed",
                            l->gzip_path, strsignal(si->si_status));
        else if (si->si_status == 1)
                log_warning("gzip of '%s' failed, leaving it uncompressed", l->gzip_path);
        l->gzip_src = sd_event_source_disable_unref(s);
        l->gzip_path = mfree(l->gzip_path);
        /* A backup skipped by a prune while it was being compressed goes now. */
        if (l->maxbackups > 0 && !l->backupname)
                logger_prune(l);
        logger_compress_next(l);
        return 0;
}

typedef struct BackupFile {
        LoggerBackup key;
        char *name;
} BackupFile;

static int backup_file_compare(const void *a, const void *b) {
        const BackupFile *x = a, *y = b;
        int c = logger_backup_compare(&x->key, &y->key);
        return c != 0 ? c : strcmp(x->name, y->name);
}

static void backup_files_free(BackupFile *f, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(f[i].name);
        free(f);
}

/* The log's backups in its directory, oldest first. */
static int logger_list_backups(const Logger *l, DIR **ret_dir, BackupFile **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL;
        const char *base;
        BackupFile *files = NULL;
        size_t n = 0;

        if (split_path(l->path, &dir, &base) < 0)
                return -ENOMEM;
        DIR *d = opendir(dir);
        if (!d)
                return log_warning_errno(errno, "Failed to list '%s' for log backups: %m", dir);
        for (struct dirent *de; (de = readdir(d));) {
                LoggerBackup key;
                if (!logger_backup_parse(base, de->d_name, &key))
                        continue;
                BackupFile *f = reallocarray(files, n + 1, sizeof(BackupFile));
                if (!f)
                        goto oom;
                files = f;
                files[n].key = key;
                if (!(files[n].name = strdup(de->d_name)))
                        goto oom;
                n++;
        }
        if (n > 0)
                qsort(files, n, sizeof(BackupFile), backup_file_compare);
        *ret_dir = d;
        *ret = files;
        *ret_n = n;
        return 0;
oom:
        backup_files_free(files, n);
        closedir(d);
        return log_oom();
}

/* log-maxbackups: removes the oldest backups past N (a backup and its .gz count as one). The
 * one gzip works on is spared until gzip is done with it. */
static void logger_prune(Logger *l) {
        BackupFile *files = NULL;
        size_t n = 0, groups = 0;
        LoggerBackup busy = {};
        bool have_busy = false;
        DIR *d = NULL;

        if (logger_list_backups(l, &d, &files, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                groups += i == 0 || logger_backup_compare(&files[i - 1].key, &files[i].key) != 0;
        if (l->gzip_path) {
                const char *gz = strrchr(l->gzip_path, '/'), *base = strrchr(l->path, '/');
                have_busy = logger_backup_parse(base ? base + 1 : l->path,
                                                gz ? gz + 1 : l->gzip_path, &busy);
        }
        size_t drop = groups > (uint64_t) l->maxbackups ? groups - (size_t) l->maxbackups : 0;
        for (size_t i = 0; i < n && drop > 0; i++) {
                bool last_of_group = i + 1 == n ||
                                     logger_backup_compare(&files[i].key, &files[i + 1].key) != 0;
                if (!(have_busy && logger_backup_compare(&files[i].key, &busy) == 0)) {
                        if (unlinkat(dirfd(d), files[i].name, 0) < 0 && errno != ENOENT)
                                log_warning_errno(errno, "Failed to remove old log '%s': %m",
                                                  files[i].name);
                        else
                                log_debug("removed old log '%s'", files[i].name);
                }
                if (last_of_group)
                        drop--;
        }
        backup_files_free(files, n);
        closedir(d);
}

/* At start: backups a previous run left uncompressed (a gzip killed with us) are compressed
 * now, and log-maxbackups applies to what is there. */
static void logger_tidy_backups(Logger *l) {
        BackupFile *files = NULL;
        size_t n = 0;
        DIR *d = NULL;

        if (l->maxbackups > 0)
                logger_prune(l);
        if (!l->compress || logger_list_backups(l, &d, &files, &n) < 0)
                return;
        _cleanup_free_ char *dir = NULL;
        const char *base;
        if (split_path(l->path, &dir, &base) >= 0)
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *p = NULL;
                        if (files[i].key.gz)
                                continue;
                        if (asprintf(&p, "%s/%s", dir, files[i].name) < 0) {
                                log_oom();
                                break;
                        }
                        logger_compress_queue(l, p);
                }
        backup_files_free(files, n);
        closedir(d);
}

/* ---- touch-logreopen ---- */

static int on_touch_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Logger *l = userdata;
        char why[512];
        (void) s;
        (void) usec;
        (void) snprintf(why, sizeof(why), "'%s' touched", strempty(l->touched));
        (void) logger_reopen(l, why);
        return 0;
}

static int on_touch(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        TouchWatch *w = userdata;
        Logger *l = w->l;
        int enabled = SD_EVENT_OFF;
        (void) s;

        if (!(ev->mask & IN_Q_OVERFLOW) && (ev->len == 0 || !streq(ev->name, w->name)))
                return 0;
        l->touched = w->path;
        if (sd_event_source_get_enabled(l->touch_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return 0;
        if (sd_event_source_set_time_relative(l->touch_timer, LOGGER_TOUCH_DEBOUNCE_USEC) < 0 ||
            sd_event_source_set_enabled(l->touch_timer, SD_EVENT_ONESHOT) < 0)
                return on_touch_timer(NULL, 0, l);
        return 0;
}

/* Watches each file's directory (the file may not exist yet), for its name. */
static int logger_watch_touch(Logger *l) {
        if (l->n_touch == 0)
                return 0;
        int r = sd_event_add_time_relative(l->event, &l->touch_timer, CLOCK_MONOTONIC,
                                           LOGGER_TOUCH_DEBOUNCE_USEC, 1000, on_touch_timer, l);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->touch_timer, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up touch-logreopen: %m");
        for (size_t i = 0; i < l->n_touch; i++) {
                TouchWatch *w = &l->touch[i];
                _cleanup_free_ char *dir = NULL;
                if (split_path(w->path, &dir, &w->name) < 0)
                        return log_oom();
                r = sd_event_add_inotify(l->event, &w->src, dir,
                                         IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE,
                                         on_touch, w);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch '%s' for touch-logreopen: %m, "
                                          "ignoring", w->path);
        }
        return 0;
}

/* ---- life cycle ---- */

void logger_on_rotate(Logger *l, void (*fn)(const char *backup, void *userdata), void *userdata) {
        l->on_rotate = fn;
        l->on_rotate_userdata = userdata;
        if (l->req)
                logger_on_rotate(l->req, fn, userdata);
}

/* A logger of one file (path; NULL: stderr) with the config's rotation. */
static int logger_new_one(const VassalConfig *c, const char *path, bool own_stdio, bool req,
                          Logger **ret) {
        _cleanup_(logger_freep) Logger *l = calloc(1, sizeof(Logger));
        int r;

        if (!l)
                return log_oom();
        l->fd = l->pipe_fd = -1;
        l->own_stdio = own_stdio;
        if (path) {
                l->path = strdup(path);
                /* log-backupname is one fixed name: the main log's. A request log gets stamped
                 * backups of its own name. */
                if (!l->path ||
                    (!req && c->log_backupname && !(l->backupname = strdup(c->log_backupname))))
                        return log_oom();
                l->maxsize = c->log_maxsize;
                l->maxbackups = c->log_maxbackups;
                l->compress = c->log_compress;
                l->reopen_on_reload = c->log_reopen;
                r = logger_open(l);
                if (r < 0)
                        return log_error_errno(r, "Failed to open %s '%s': %m",
                                               req ? "req-logger" : "logto", l->path);
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int logger_new(const VassalConfig *c, bool own_stdio, Logger **ret) {
        _cleanup_(logger_freep) Logger *l = NULL;
        const char *path = c->logto ?: c->daemonize;
        int r;

        r = logger_new_one(c, path, own_stdio, false, &l);
        if (r < 0)
                return r;
        assert(l); /* set on success: the analyzer cannot tell log_oom() is negative */
        l->buf = malloc(LOGGER_BUF_SIZE);
        if (!l->buf)
                return log_oom();
        if (c->req_logger) {
                r = logger_new_one(c, c->req_logger, false, true, &l->req);
                if (r < 0)
                        return r;
        }
        /* Even without req-logger and log-date: workers of an older config may mark lines. */
        l->out = malloc(LOGGER_OUT_SIZE);
        if (!l->out)
                return log_oom();
        if (c->log_date) {
                l->date = true;
                if (c->log_date[0] && !(l->date_format = strdup(c->log_date)))
                        return log_oom();
        }
        if (!path) {
                if (c->log_maxsize || c->log_backupname || c->log_maxbackups || c->log_compress ||
                    c->log_reopen || c->touch_logreopen)
                        log_warning("log-maxsize, log-backupname, log-maxbackups, log-compress, "
                                    "log-reopen and touch-logreopen need 'logto': the log is "
                                    "stderr and is neither rotated nor reopened");
                *ret = TAKE_PTR(l);
                return 0;
        }
        size_t n_touch = 0;
        while (c->touch_logreopen && c->touch_logreopen[n_touch])
                n_touch++;
        if (n_touch > 0 && !(l->touch = calloc(n_touch, sizeof(TouchWatch))))
                return log_oom();
        for (; l->n_touch < n_touch; l->n_touch++) {
                TouchWatch *w = &l->touch[l->n_touch];
                *w = (TouchWatch) { .l = l, .path = strdup(c->touch_logreopen[l->n_touch]) };
                if (!w->path)
                        return log_oom();
        }
        if (l->maxbackups > 0 && l->backupname)
                log_warning("log-maxbackups has no effect with log-backupname (one backup)");
        if (own_stdio)
                log_set_level_prefix(0);
        *ret = TAKE_PTR(l);
        return 0;
}

int logger_attach(Logger *l, sd_event *e, int pipe_fd) {
        int r;

        l->event = sd_event_ref(e);
        l->pipe_fd = pipe_fd;
        /* A big pipe: workers write without waiting for the master, which reads in bursts.
         * Beyond the user's quota (fs.pipe-user-pages-soft, unless root) it stays as it is. */
        if (fcntl(pipe_fd, F_SETPIPE_SZ, LOGGER_PIPE_SIZE) < 0)
                log_debug_errno(errno, "Failed to enlarge the log pipe: %m, ignoring");
        int size = fcntl(pipe_fd, F_GETPIPE_SZ);
        l->coalesce_usec = size > 0 ? (uint64_t) size / 4 / 100 : 160; /* 100 bytes/us */
        l->coalesce_usec = MAX(l->coalesce_usec, 100u);

        r = sd_event_add_io(e, &l->pipe_src, pipe_fd, EPOLLIN, on_pipe, l);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &l->coalesce_timer, CLOCK_MONOTONIC,
                                               l->coalesce_usec, l->coalesce_usec / 10 + 1,
                                               on_coalesce, l);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->coalesce_timer, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the log pipe: %m");
        r = logger_watch_touch(l);
        if (r < 0)
                return r;
        if (l->path && !l->backupname && (l->compress || l->maxbackups > 0))
                logger_tidy_backups(l);
        if (l->req) {
                /* No pipe of its own: it only needs the loop for gzip. */
                l->req->event = sd_event_ref(e);
                if (l->req->path && (l->req->compress || l->req->maxbackups > 0))
                        logger_tidy_backups(l->req);
        }
        return 0;
}

Logger *logger_free(Logger *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->pipe_src);
        sd_event_source_disable_unref(l->coalesce_timer);
        /* A running gzip finishes on its own. */
        sd_event_source_disable_unref(l->gzip_src);
        sd_event_source_disable_unref(l->touch_timer);
        for (size_t i = 0; i < l->n_touch; i++) {
                sd_event_source_disable_unref(l->touch[i].src);
                free(l->touch[i].path);
        }
        free(l->touch);
        for (size_t i = 0; i < l->n_queue; i++)
                free(l->queue[i]);
        free(l->queue);
        free(l->gzip_path);
        sd_event_unref(l->event);
        safe_close(l->fd);
        free(l->buf);
        free(l->path);
        free(l->backupname);
        logger_free(l->req);
        free(l->date_format);
        free(l->out);
        return mfree(l);
}
