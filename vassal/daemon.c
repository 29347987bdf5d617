/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "janitor.h"
#include "exitcodes.h"
#include "log.h"

/* How long a daemonizing parent waits for the master to accept. An app that never gets ready
 * (workers crashing in a loop) must not hang an init script: past this the parent says so and
 * leaves the master running in the background. */
#define DAEMON_READY_TIMEOUT_MS (60 * 1000)

/* The write end of the pipe the daemonizing parent waits on; -1 once told or without one.
 * Process state, like the log settings. */
static int ready_fd = -1;

/* A reload re-executes the master in place (reload.c sets VASSAL_RELOAD for the new image):
 * it is in the background already, and its pidfile is written. */
static bool reexecuted(void) {
        return getenv("VASSAL_RELOAD") != NULL;
}

/* The parent's side: waits for the master's "ready" byte, its exit, or the timeout. */
static int daemon_wait(pid_t pid, int fd, const char *logfile) {
        int pidfd = (int) pidfd_open(pid, 0), status;
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };

        for (;;) {
                int n = poll(p, pidfd >= 0 ? 2 : 1, DAEMON_READY_TIMEOUT_MS);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0) {
                        fprintf(stderr, "vassal: the master (pid %d) is not ready after %d s; it "
                                "goes on starting in the background, see '%s'\n", (int) pid,
                                DAEMON_READY_TIMEOUT_MS / 1000, logfile);
                        safe_close(pidfd);
                        return 0;
                }
                if (n < 0)
                        break;
                if (p[0].revents) {
                        char b;
                        if (read(fd, &b, 1) == 1) {
                                safe_close(pidfd);
                                return 0;
                        }
                        break; /* EOF: the master is gone */
                }
                if (p[1].revents)
                        break;
        }
        safe_close(pidfd);
        /* Our own child, by pid: the parent runs no event loop. */
        if (waitpid(pid, &status, 0) < 0)
                return EXIT_RUNTIME;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        fprintf(stderr, "vassal: the master (pid %d) was killed by signal %s\n", (int) pid,
                strsignal(WTERMSIG(status)));
        return EXIT_RUNTIME;
}

int daemon_start(const VassalConfig *c, int *ret_code) {
        int p[2];

        if (!c->daemonize || reexecuted())
                return 0;
        /* A supervisor (the emperor, systemd) waits for READY=1 from its child and takes an
         * exit for a stop: going to the background would leave it blind. */
        if (getenv("NOTIFY_SOCKET")) {
                log_warning("daemonize: ignored under a supervisor (NOTIFY_SOCKET is set), "
                            "logging to '%s'", c->logto ?: c->daemonize);
                return 0;
        }
        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(errno, "daemonize: pipe: %m");
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(p[0]);
                safe_close(p[1]);
                return log_error_errno(r, "daemonize: fork: %m");
        }
        if (pid == 0) {
                safe_close(p[0]);
                /* No controlling terminal, our own process group: a closed terminal or a ^C in
                 * it does not reach us. stdout and stderr become the log file when the master
                 * opens it; until then a startup error still reaches the terminal. */
                if (setsid() < 0)
                        log_warning_errno(errno, "daemonize: setsid: %m, ignoring");
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (null >= 0 && null != STDIN_FILENO) {
                        (void) dup2(null, STDIN_FILENO);
                        safe_close(null);
                }
                ready_fd = p[1];
                return 0;
        }
        safe_close(p[1]);
        *ret_code = daemon_wait(pid, p[0], c->logto ?: c->daemonize);
        safe_close(p[0]);
        return 1;
}

void daemon_ready(void) {
        if (ready_fd < 0)
                return;
        (void) !write(ready_fd, "R", 1);
        ready_fd = safe_close(ready_fd);
}

int daemon_pidfile_write(const VassalConfig *c) {
        _cleanup_free_ char *tmp = NULL;
        char line[32];
        int r = 0;

        if (!c->pidfile || reexecuted())
                return 0;
        /* A hidden temporary beside it, so the rename stays within one file system. */
        const char *slash = strrchr(c->pidfile, '/');
        int dir_len = slash ? (int) (slash - c->pidfile) + 1 : 0;
        if (asprintf(&tmp, "%.*s.%s.XXXXXX", dir_len, c->pidfile,
                     slash ? slash + 1 : c->pidfile) < 0)
                return log_oom();
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to write pidfile '%s': %m", c->pidfile);
        int n = snprintf(line, sizeof(line), "%d\n", (int) getpid());
        if (fchmod(fd, 0644) < 0 || write(fd, line, n) != n)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, c->pidfile) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return log_error_errno(r, "Failed to write pidfile '%s': %m", c->pidfile);
        }
        return 0;
}

void daemon_pidfile_remove(const VassalConfig *c) {
        char line[32] = "";

        if (!c->pidfile || !c->vacuum)
                return;
        FILE *f = fopen(c->pidfile, "re");
        if (!f)
                return;
        bool ours = fgets(line, sizeof(line), f) && atoi(line) == (int) getpid();
        fclose(f);
        /* Made as root and we are not any more: the janitor removes it once we are gone. */
        if (ours && unlink(c->pidfile) < 0 && errno != ENOENT && !janitor_active())
                log_warning_errno(errno, "Failed to remove pidfile '%s': %m", c->pidfile);
}
