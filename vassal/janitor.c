/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "janitor.h"
#include "log.h"
#include "macro.h"
#include "users.h"

#define JANITOR_FILES_MAX 64

typedef struct JanitorFile {
        const char *path;
        dev_t dev;
        ino_t ino;
        bool pidfile;
} JanitorFile;

static bool active;

bool janitor_active(void) {
        return active;
}

/* Whether the user the vassal drops to may remove path: write and search on its directory
 * (the sticky bit aside, which only makes it harder). A guess that errs towards starting a
 * janitor that finds nothing to do. */
static bool user_may_remove(const char *path, uid_t uid, gid_t gid) {
        _cleanup_free_ char *dir = strdup(path);
        struct stat st;

        if (!dir)
                return false;
        char *slash = strrchr(dir, '/');
        if (!slash)
                strcpy(dir, ".");
        else if (slash == dir)
                dir[1] = 0;
        else
                *slash = 0;
        if (stat(dir, &st) < 0)
                return false;
        if (st.st_mode & S_ISVTX && st.st_uid != uid)
                return false;
        if (st.st_uid == uid)
                return (st.st_mode & 0300) == 0300;
        if (st.st_gid == gid)
                return (st.st_mode & 0030) == 0030;
        return (st.st_mode & 0003) == 0003;
}

/* The janitor itself: between fork and _exit, async-signal-safe calls only (the master may
 * have threads: Python's). */
_Noreturn static void janitor_run(pid_t master, const JanitorFile *files, size_t n) {
        char line[32];
        struct stat st;

        /* Every descriptor but stderr: the listening sockets, the log pipe, the notify
         * socket. */
        (void) close_range(0, 1, 0);
        (void) close_range(3, ~0U, 0);
        int fd = open("/dev/null", O_RDWR);
        if (fd == 0)
                (void) dup2(fd, 1);
        int pidfd = (int) syscall(SYS_pidfd_open, master, 0);
        /* The master may have exited already: then it is no longer our parent. */
        if (pidfd >= 0 && getppid() == master) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                while (poll(&p, 1, -1) < 0 && errno == EINTR)
                        ;
        }
        for (size_t k = 0; k < n; k++) {
                if (lstat(files[k].path, &st) < 0 || st.st_dev != files[k].dev ||
                    st.st_ino != files[k].ino)
                        continue; /* gone, or replaced since: not ours any more */
                if (files[k].pidfile) {
                        /* Only while it names the master. */
                        int pf = open(files[k].path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                        ssize_t got = pf >= 0 ? read(pf, line, sizeof(line) - 1) : -1;
                        if (pf >= 0)
                                close(pf);
                        if (got <= 0)
                                continue;
                        line[got] = 0;
                        if (strtol(line, NULL, 10) != master)
                                continue;
                }
                if (unlink(files[k].path) < 0 && errno != ENOENT) {
                        char msg[600];
                        int m = snprintf(msg, sizeof(msg), "vassal: cannot remove '%s': %s\n",
                                         files[k].path, strerrordesc_np(errno) ?: "?");
                        if (m > 0)
                                (void) !write(STDERR_FILENO, msg, MIN((size_t) m, sizeof(msg)));
                }
        }
        _exit(0);
}

int janitor_start(const VassalConfig *cfg, const ListenerSet *set) {
        JanitorFile files[JANITOR_FILES_MAX];
        Credentials c;
        char message[300];
        struct stat st;
        size_t n = 0;
        int r;

        if (geteuid() != 0 || (!cfg->uid && !cfg->gid))
                return 0;
        r = credentials_resolve(cfg->uid, cfg->gid, &c, message, sizeof(message));
        if (r < 0)
                return 0; /* the drop fails and says why */
        uid_t uid = c.set_uid ? c.uid : 0;
        gid_t gid = c.set_gid ? c.gid : 0;
        credentials_done(&c);
        if (uid == 0)
                return 0;

        for (size_t k = 0; k < set->n && n < JANITOR_FILES_MAX; k++) {
                const char *p = set->items[k].unix_path;
                if (p && lstat(p, &st) == 0 && !user_may_remove(p, uid, gid))
                        files[n++] = (JanitorFile) { p, st.st_dev, st.st_ino, false };
        }
        if (cfg->pidfile && cfg->vacuum && n < JANITOR_FILES_MAX &&
            lstat(cfg->pidfile, &st) == 0 && !user_may_remove(cfg->pidfile, uid, gid))
                files[n++] = (JanitorFile) { cfg->pidfile, st.st_dev, st.st_ino, true };
        if (n == 0)
                return 0;

        pid_t master = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Cannot start the process that removes the socket "
                                              "files and pidfile at exit: %m; they will be left "
                                              "behind");
        if (pid == 0)
                janitor_run(master, files, n);
        active = true;
        log_info("files made as root (%zu) are removed at exit by pid %d, which keeps root for "
                 "that alone", n, (int) pid);
        return 0;
}
