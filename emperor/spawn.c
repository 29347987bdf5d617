/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "macro.h"
#include "spawn.h"

extern char **environ;

/* Our environment minus what a child must not inherit, plus add. NULL on OOM. */
static char **build_env(char *const *add, char *listen_pid_slot) {
        size_t n = 0, k = 0;
        for (char **e = environ; *e; e++)
                n++;
        for (char *const *a = add; a && *a; a++)
                n++;
        char **env = calloc(n + 2, sizeof(char *));
        if (!env)
                return NULL;
        for (char **e = environ; *e; e++) {
                if (strncmp(*e, "LISTEN_", 7) == 0 || strncmp(*e, "NOTIFY_SOCKET=", 14) == 0)
                        continue;
                bool replaced = false;
                for (char *const *a = add; a && *a && !replaced; a++) {
                        const char *eq = strchr(*a, '=');
                        size_t kl = eq ? (size_t) (eq - *a) + 1 : strlen(*a);
                        replaced = strncmp(*e, *a, kl) == 0;
                }
                if (!replaced)
                        env[k++] = *e;
        }
        for (char *const *a = add; a && *a; a++)
                env[k++] = *a;
        if (listen_pid_slot)
                env[k++] = listen_pid_slot;
        env[k] = NULL;
        return env;
}

/* Everything here runs between fork and exec: no allocation, no locks, no logging. */
_Noreturn static void child(const SpawnOptions *o, char **env, char *listen_pid_slot,
                            int err_fd, pid_t parent) {
        sigset_t none;
        int r;

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        (void) setsid();
        /* If the emperor dies, its vassals stop gracefully (DESIGN.md). */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                goto fail;

        if (o->cgroup) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/cgroup.procs", o->cgroup);
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        (void) !write(fd, "0", 1);
                        close(fd);
                }
        }

        /* The sockets go to 3, 4, ...: first out of the way (above every target and the error
         * pipe), then into place, with close-on-exec cleared (dup2 onto itself would keep it). */
        int base = 3 + (int) o->n_fds + 8;
        if (err_fd < base) {
                r = fcntl(err_fd, F_DUPFD_CLOEXEC, base);
                if (r < 0)
                        goto fail;
                err_fd = r;
        }
        int moved[256];
        if (o->n_fds > ELEMENTSOF(moved)) {
                errno = EMFILE;
                goto fail;
        }
        for (size_t i = 0; i < o->n_fds; i++) {
                moved[i] = fcntl(o->fds[i], F_DUPFD_CLOEXEC, err_fd + 1);
                if (moved[i] < 0)
                        goto fail;
        }
        for (size_t i = 0; i < o->n_fds; i++)
                if (dup2(moved[i], 3 + (int) i) < 0)
                        goto fail;
        if (o->stdout_fd >= 0) {
                if (dup2(o->stdout_fd, STDOUT_FILENO) < 0 || dup2(o->stdout_fd, STDERR_FILENO) < 0)
                        goto fail;
        }
        if (listen_pid_slot)
                snprintf(listen_pid_slot, 32, "LISTEN_PID=%d", (int) getpid());

        if (o->drop) {
                if (setgroups(0, NULL) < 0 || setgid(o->gid) < 0 || setuid(o->uid) < 0)
                        goto fail;
        }
        execve(o->path, o->argv, env);
fail:
        r = errno;
        (void) !write(err_fd, &r, sizeof(r));
        _exit(127);
}

int spawn_process(const SpawnOptions *o, pid_t *ret_pid, int *ret_exec_errno) {
        char listen_pid[32] = "LISTEN_PID=", listen_fds[32];
        char *add[64];
        size_t n_add = 0;
        int pipefd[2];

        for (char *const *a = o->env_add; a && *a && n_add < ELEMENTSOF(add) - 2; a++)
                add[n_add++] = *a;
        if (o->n_fds > 0) {
                snprintf(listen_fds, sizeof(listen_fds), "LISTEN_FDS=%zu", o->n_fds);
                add[n_add++] = listen_fds;
        }
        add[n_add] = NULL;

        _cleanup_free_ char **env = build_env(add, o->n_fds > 0 ? listen_pid : NULL);
        if (!env)
                return -ENOMEM;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(pipefd[0]);
                safe_close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                close(pipefd[0]);
                child(o, env, o->n_fds > 0 ? listen_pid : NULL, pipefd[1], parent);
        }

        safe_close(pipefd[1]);
        int err = 0;
        ssize_t n;
        do
                n = read(pipefd[0], &err, sizeof(err));
        while (n < 0 && errno == EINTR);
        safe_close(pipefd[0]);
        *ret_pid = pid;
        *ret_exec_errno = n == (ssize_t) sizeof(err) ? err : 0;
        return 0;
}
