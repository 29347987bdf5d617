/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "acceptor.h"
#include "instance.h"
#include "log.h"
#include "macro.h"
#include "reports.h"

/* Records read from one connection per tick at most: a vassal that writes more than one a
 * tick only loses its older ones. */
#define READ_MAX 16
/* One report: the vassal keeps its messages under this (vassal/master.c STATS_MESSAGE_MAX). */
#define REPORT_MAX 65536

/* A master silent this long, and for this many of its intervals, is hung. */
#define HUNG_MIN_USEC (10 * USEC_PER_SEC)
#define HUNG_INTERVALS 5
#define USEC_PER_SEC 1000000ULL

typedef struct ReportConn {
        pid_t pid;
        int fd;
        uint64_t last;   /* its last report came (CLOCK_MONOTONIC µs; at first: it connected) */
        uint64_t gap;    /* the shortest time between two of its reports: its own interval,
                          * whatever its ini says, as the emperor sees it (a stall does not
                          * lengthen it) */
        unsigned count;  /* its reports so far */
        bool hung;       /* said, and killed: once */
} ReportConn;

struct Reports {
        Manager *m;
        char *path;
        int fd;
        Acceptor *acceptor;
        ReportConn *conns;
        size_t n_conns, cap;
        uint64_t last_collect; /* CLOCK_MONOTONIC µs; 0: never */
        char *buf; /* READ_MAX records of REPORT_MAX bytes (touched as far as they are used) */
};

static void conn_drop(Reports *r, size_t k) {
        safe_close(r->conns[k].fd);
        r->conns[k] = r->conns[--r->n_conns];
        acceptor_client_gone(r->acceptor);
}

static uint64_t reports_now(Reports *r) {
        return manager_ops(r->m)->now(r->m);
}

static int on_connection(Acceptor *a, int fd, void *userdata) {
        Reports *r = userdata;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        (void) a;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            !manager_pid_owner(r->m, cred.pid)) {
                log_debug("stats socket: connection from pid %d, none of ours: closed",
                          (int) (len == sizeof(cred) ? cred.pid : 0));
                return -EPERM;
        }
        for (size_t k = 0; k < r->n_conns; k++)
                if (r->conns[k].pid == cred.pid) {
                        /* The same process again (a master re-executed for a reload keeps
                         * its pid): the new connection replaces the old. */
                        safe_close(r->conns[k].fd);
                        r->conns[k] = (ReportConn) { .pid = cred.pid, .fd = fd,
                                                     .last = reports_now(r) };
                        acceptor_client_gone(r->acceptor);
                        return 0;
                }
        if (r->n_conns == r->cap) {
                size_t cap = r->cap ? r->cap * 2 : 64;
                ReportConn *c = reallocarray(r->conns, cap, sizeof(ReportConn));
                if (!c)
                        return -ENOMEM;
                r->conns = c;
                r->cap = cap;
        }
        r->conns[r->n_conns++] = (ReportConn) { .pid = cred.pid, .fd = fd, .last = reports_now(r) };
        return 0;
}

/* The newest record the connection holds: its length (at *ret), 0 when none came, or -1 when
 * the connection is over. One system call for all that waited. */
static ssize_t conn_read(Reports *r, int fd, const char **ret) {
        struct mmsghdr msgs[READ_MAX];
        struct iovec iov[READ_MAX];

        for (int k = 0; k < READ_MAX; k++) {
                iov[k] = (struct iovec) { r->buf + (size_t) k * REPORT_MAX, REPORT_MAX };
                msgs[k] = (struct mmsghdr) { .msg_hdr = { .msg_iov = &iov[k], .msg_iovlen = 1 } };
        }
        int n = recvmmsg(fd, msgs, READ_MAX, MSG_DONTWAIT, NULL);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
        /* A record of 0 bytes is the end: the vassal closed the connection (or exited). */
        for (int k = n - 1; k >= 0; k--) {
                if (msgs[k].msg_len == 0)
                        return -1;
                if (msgs[k].msg_len >= REPORT_MAX || (msgs[k].msg_hdr.msg_flags & MSG_TRUNC)) {
                        log_warning("stats socket: dropped an oversized report");
                        continue;
                }
                *ret = iov[k].iov_base;
                return (ssize_t) msgs[k].msg_len;
        }
        return 0;
}

/* Whether a master that reported before has been silent too long: 10 s and 5 of its
 * intervals (the shortest gap seen, at least the emperor's interval). Masters that never
 * reported are not judged (they may not report at all; starting ones have a ready timeout). */
static bool conn_hung(const Reports *r, const ReportConn *c, uint64_t now) {
        uint64_t interval = MAX(c->gap, (uint64_t) manager_stats_interval(r->m) * USEC_PER_SEC);
        return c->count > 0 && !c->hung &&
               now - MIN(now, c->last) > MAX(HUNG_MIN_USEC, HUNG_INTERVALS * interval);
}

void reports_collect(Reports *r) {
        uint64_t now = reports_now(r);
        uint64_t tick = (uint64_t) manager_stats_interval(r->m) * USEC_PER_SEC;

        /* The emperor itself was away (stopped, starved): nothing it did not read says
         * anything about the vassals. Every silence counts from now. */
        bool away = r->last_collect && now - r->last_collect > 3 * MAX(tick, USEC_PER_SEC);
        r->last_collect = now;
        for (size_t k = 0; k < r->n_conns;) {
                ReportConn *c = &r->conns[k];
                Instance *i = manager_pid_owner(r->m, c->pid);
                const char *msg = NULL;
                ssize_t n = i ? conn_read(r, c->fd, &msg) : -1;
                if (n < 0) {
                        conn_drop(r, k); /* the last one moved here: look at k again */
                        continue;
                }
                if (away)
                        c->last = now;
                if (n > 0) {
                        /* The first gap counts from the connection: longer than the interval
                         * by the master's start, which errs on the safe side until the
                         * second report. */
                        uint64_t gap = now - MIN(now, c->last);
                        if (!away)
                                c->gap = c->count == 0 ? gap : MIN(c->gap, gap);
                        c->last = now;
                        c->count++;
                        (void) instance_notify(i, c->pid, msg, (size_t) n);
                } else if (conn_hung(r, c, now)) {
                        c->hung = true;
                        /* May kill it; the connection ends when it dies. */
                        instance_hung(i, c->pid, now - c->last);
                }
                k++;
        }
}

unsigned reports_connections(const Reports *r) {
        return r ? (unsigned) r->n_conns : 0;
}

int reports_new(Manager *m, const char *path, Reports **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_(reports_freep) Reports *r = NULL;
        int e;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "'%s': path too long", path);
        strcpy(sa.sun_path, path);
        r = calloc(1, sizeof(Reports));
        if (!r)
                return -ENOMEM;
        r->m = m;
        r->fd = -1;
        r->path = strdup(path);
        r->buf = malloc((size_t) READ_MAX * REPORT_MAX);
        if (!r->path || !r->buf)
                return -ENOMEM;
        r->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (r->fd < 0)
                return log_error_errno(errno, "stats socket: %m");
        (void) unlink(path);
        if (bind(r->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Cannot bind '%s': %m", path);
        /* Vassals running as other users connect too; who they are is checked per
         * connection. */
        if (chmod(path, 0666) < 0 || listen(r->fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "stats socket '%s': %m", path);
        e = acceptor_new(manager_event(m), r->fd, &(AcceptorOptions) { 0 }, on_connection, r,
                         &r->acceptor);
        if (e < 0)
                return log_error_errno(e, "stats socket: %m");
        *ret = TAKE_PTR(r);
        return 0;
}

Reports *reports_free(Reports *r) {
        if (!r)
                return NULL;
        while (r->n_conns > 0)
                conn_drop(r, r->n_conns - 1);
        acceptor_free(r->acceptor);
        safe_close(r->fd);
        if (r->path)
                (void) unlink(r->path);
        free(r->path);
        free(r->conns);
        free(r->buf);
        free(r);
        return NULL;
}
