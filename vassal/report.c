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
        int fd;     /* -1: not connected */
        char *held; /* the stats part of the last whole report this connection carried */
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
                free(r->held);
                free(r);
        }
        return NULL;
}

/* The connection ends: what it carried is no longer held. */
static void reporter_disconnect(Reporter *r) {
        r->fd = safe_close(r->fd);
        r->held = mfree(r->held);
}

void reporter_forget(Reporter *r) {
        if (r)
                reporter_disconnect(r);
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

/* One send over the connection as it is: 1 sent, 0 dropped (full queue), -1 the connection
 * is over (now closed). */
static int reporter_write(Reporter *r, const char *msg, size_t len) {
        if (send(r->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
                return 1;
        if (errno == EAGAIN || errno == EINTR) {
                /* The emperor has not read the last ones: this one waits no more. */
                log_debug("stats socket full, report dropped");
                return 0;
        }
        /* EPIPE, ECONNRESET: that emperor is gone. */
        log_debug_errno(errno, "stats socket: %m");
        reporter_disconnect(r);
        return -1;
}

bool reporter_send(Reporter *r, const char *msg, size_t len, const char *held) {
        for (int attempt = 0; attempt < 2; attempt++) {
                if (r->fd < 0) {
                        int e = reporter_connect(r);
                        if (e < 0) {
                                log_debug_errno(-e, "stats socket '%s': %m", r->sa.sun_path);
                                return false;
                        }
                }
                int k = reporter_write(r, msg, len);
                if (k < 0)
                        continue; /* once more with a new connection */
                if (k > 0) {
                        /* The emperor holds this one now (out of memory, or none given:
                         * nothing is held, and the next report goes whole). */
                        free(r->held);
                        r->held = held ? strdup(held) : NULL;
                }
                return k > 0;
        }
        return false;
}

bool reporter_holds(const Reporter *r, const char *held) {
        return r->fd >= 0 && r->held && held && streq(r->held, held);
}

bool reporter_send_brief(Reporter *r, const char *msg, size_t len) {
        return r->fd >= 0 && r->held && reporter_write(r, msg, len) > 0;
}
