/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "report.h"

struct Reporter {
        struct sockaddr_un sa;
        socklen_t sa_len;
        int fd; /* -1: not connected */
};

int reporter_new_from_env(Reporter **ret) {
        const char *path = getenv("EMPEROR_STATS_SOCKET");
        *ret = NULL;
        if (!path || !*path)
                return 0;
        Reporter *r = calloc(1, sizeof(Reporter));
        if (!r)
                return -ENOMEM;
        r->fd = -1;
        r->sa.sun_family = AF_UNIX;
        if (path[0] != '/' || strlen(path) >= sizeof(r->sa.sun_path)) {
                free(r);
                return log_error_errno(EINVAL, "EMPEROR_STATS_SOCKET='%s': not an absolute "
                                               "socket path", path);
        }
        strcpy(r->sa.sun_path, path);
        r->sa_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
        *ret = r;
        return 0;
}

Reporter *reporter_free(Reporter *r) {
        if (r) {
                safe_close(r->fd);
                free(r);
        }
        return NULL;
}

void reporter_forget(Reporter *r) {
        if (r)
                r->fd = safe_close(r->fd);
}

static int reporter_connect(Reporter *r) {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A unix connect completes at once or fails (EAGAIN: the listener's backlog is full;
         * the next report tries again). */
        if (connect(fd, (struct sockaddr *) &r->sa, r->sa_len) < 0) {
                int e = errno;
                safe_close(fd);
                return -e;
        }
        r->fd = fd;
        return 0;
}

bool reporter_send(Reporter *r, const char *msg, size_t len) {
        for (int attempt = 0; attempt < 2; attempt++) {
                if (r->fd < 0) {
                        int e = reporter_connect(r);
                        if (e < 0) {
                                log_debug_errno(-e, "stats socket '%s': %m", r->sa.sun_path);
                                return false;
                        }
                }
                if (send(r->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
                        return true;
                if (errno == EAGAIN || errno == EINTR) {
                        /* The emperor has not read the last ones: this one waits no more. */
                        log_debug("stats socket full, report dropped");
                        return false;
                }
                /* EPIPE, ECONNRESET: that emperor is gone; once more with a new connection. */
                log_debug_errno(errno, "stats socket: %m");
                r->fd = safe_close(r->fd);
        }
        return false;
}
