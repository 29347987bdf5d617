/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reload.h"

static char **saved_argv;
static char saved_exe[PATH_MAX];

void reload_save_argv(char **argv) {
        saved_argv = argv;
        /* The binary's path, not /proc/self/exe: an upgrade installed over it is what a
         * reload should run. */
        if (!realpath("/proc/self/exe", saved_exe))
                snprintf(saved_exe, sizeof(saved_exe), "/proc/self/exe");
}

char *const *reload_argv(void) {
        return saved_argv;
}

const char *reload_exe(void) {
        return access(saved_exe, X_OK) == 0 ? saved_exe : "/proc/self/exe";
}

int reload_inherit(ReloadInherit *ret) {
        const char *mode = getenv("VASSAL_RELOAD");
        const char *pids = getenv("VASSAL_OLD_WORKERS");
        const char *pipe = getenv("VASSAL_LOG_PIPE");

        *ret = (ReloadInherit) { .log_pipe = { -1, -1 } };
        if (!mode)
                return 0;
        ret->active = true;
        ret->chain = strcmp(mode, "chain") == 0;
        if (pipe && sscanf(pipe, "%d,%d", &ret->log_pipe[0], &ret->log_pipe[1]) == 2) {
                (void) fcntl(ret->log_pipe[0], F_SETFD, FD_CLOEXEC);
                (void) fcntl(ret->log_pipe[1], F_SETFD, FD_CLOEXEC);
        } else
                ret->log_pipe[0] = ret->log_pipe[1] = -1;
        for (const char *p = pids; p && *p;) {
                char *end;
                long v = strtol(p, &end, 10);
                if (end == p)
                        break;
                pid_t *l = reallocarray(ret->old_pids, ret->n_old + 1, sizeof(pid_t));
                if (!l)
                        return -ENOMEM;
                ret->old_pids = l;
                ret->old_pids[ret->n_old++] = (pid_t) v;
                p = *end == ',' ? end + 1 : end;
        }
        unsetenv("VASSAL_RELOAD");
        unsetenv("VASSAL_OLD_WORKERS");
        unsetenv("VASSAL_LOG_PIPE");
        return 0;
}

void reload_inherit_done(ReloadInherit *r) {
        free(r->old_pids);
        r->old_pids = NULL;
        r->n_old = 0;
}

int reload_exec(const ListenerSet *ls, const int log_pipe[2], const pid_t *workers, size_t n,
                bool chain) {
        char buf[64];
        int base = 3 + (int) ls->n + 16;
        int high[256];

        if (ls->n > ELEMENTSOF(high))
                return -EMFILE;
        /* Everything kept goes above every target first, then the sockets into 3, 4, ...
         * (dup2 leaves them without close-on-exec; all else is closed by exec). */
        for (size_t i = 0; i < ls->n; i++) {
                high[i] = fcntl(ls->items[i].fd, F_DUPFD, base);
                if (high[i] < 0)
                        return -errno;
        }
        int lr = fcntl(log_pipe[0], F_DUPFD, base), lw = fcntl(log_pipe[1], F_DUPFD, base);
        if (lr < 0 || lw < 0)
                return -errno;
        for (size_t i = 0; i < ls->n; i++) {
                if (dup2(high[i], 3 + (int) i) < 0)
                        return -errno;
                close(high[i]);
        }

        snprintf(buf, sizeof(buf), "%zu", ls->n);
        setenv("LISTEN_FDS", buf, 1);
        snprintf(buf, sizeof(buf), "%d", (int) getpid());
        setenv("LISTEN_PID", buf, 1);
        unsetenv("LISTEN_FDNAMES");
        setenv("VASSAL_RELOAD", chain ? "chain" : "graceful", 1);
        snprintf(buf, sizeof(buf), "%d,%d", lr, lw);
        setenv("VASSAL_LOG_PIPE", buf, 1);
        size_t size = n * 12 + 1, off = 0;
        char *pids = malloc(size);
        if (!pids)
                return -ENOMEM;
        pids[0] = 0;
        for (size_t i = 0; i < n; i++)
                off += snprintf(pids + off, size - off, "%s%d", i ? "," : "", (int) workers[i]);
        setenv("VASSAL_OLD_WORKERS", pids, 1);
        free(pids);
        /* The unix socket files we made stay ours to remove at exit (not those a supervisor
         * made and passed to us): one path per line. */
        size_t olen = 1;
        for (size_t i = 0; i < ls->n; i++)
                if (ls->items[i].unix_path)
                        olen += strlen(ls->items[i].unix_path) + 1;
        char *owned = calloc(olen, 1);
        if (!owned)
                return -ENOMEM;
        for (size_t i = 0; i < ls->n; i++)
                if (ls->items[i].unix_path) {
                        strcat(owned, ls->items[i].unix_path);
                        strcat(owned, "\n");
                }
        setenv("VASSAL_UNIX_OWNED", owned, 1);
        free(owned);

        execv(reload_exe(), saved_argv);
        return -errno;
}
