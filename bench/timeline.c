/* SPDX-License-Identifier: MIT */
/* A keep-alive HTTP/1.1 load on 127.0.0.1 that keeps every response's time: N connections,
 * one request in flight on each, for SECONDS; then one line per response, "UNIX_TIME LATENCY_MS"
 * (completion time, latency including any reconnect), to OUT. wrk reports only whole-run
 * percentiles; bench/reload-paired.sh needs to split one run into windows with and without
 * reloads.
 *
 *   timeline PORT CONNECTIONS SECONDS OUT
 *
 * A response with "Connection: close" (a stopping worker, or a server that closes every
 * connection) is counted, then the connection is opened again. One thread, epoll: about
 * 100k requests/s on one core here, like wrk -t2. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESPONSES 20000000

typedef struct Conn {
        int fd;
        double sent; /* when the request in flight was sent */
        char buf[8192];
        size_t len;
} Conn;

static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
static int port, ep;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int conn_open(Conn *c) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        int one = 1;

        c->len = 0;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -errno;
        (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(c->fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
                int r = -errno;
                close(c->fd);
                c->fd = -1;
                return r;
        }
        return 0;
}

static void conn_close(Conn *c) {
        if (c->fd >= 0) {
                (void) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
        }
        c->fd = -1;
}

/* Sends the request (again, on a new connection, when the old one is gone); the latency
 * counts from first_sent. */
static int conn_send(Conn *c, double first_sent) {
        for (int attempt = 0; attempt < 100; attempt++) {
                if (c->fd < 0 && conn_open(c) < 0) {
                        usleep(10000);
                        continue;
                }
                if (write(c->fd, request, sizeof(request) - 1) == (ssize_t) sizeof(request) - 1) {
                        c->sent = first_sent;
                        return 0;
                }
                conn_close(c);
        }
        return -EIO;
}

/* A whole response in the buffer: its length, else 0. */
static size_t response_length(const Conn *c, bool *ret_close) {
        const char *end = strstr(c->buf, "\r\n\r\n");
        const char *cl;
        size_t body = 0;

        if (!end)
                return 0;
        cl = strcasestr(c->buf, "\r\ncontent-length:");
        if (cl && cl < end)
                body = strtoul(cl + 17, NULL, 10);
        *ret_close = strcasestr(c->buf, "\r\nconnection: close") != NULL;
        size_t need = (size_t) (end + 4 - c->buf) + body;
        return c->len >= need ? need : 0;
}

int main(int argc, char **argv) {
        if (argc != 5) {
                fprintf(stderr, "usage: %s PORT CONNECTIONS SECONDS OUT\n", argv[0]);
                return 2;
        }
        port = atoi(argv[1]);
        int n = atoi(argv[2]);
        double seconds = atof(argv[3]), end;
        double *when = malloc(MAX_RESPONSES * sizeof(double));
        float *latency = malloc(MAX_RESPONSES * sizeof(float));
        Conn *conns = calloc((size_t) (n > 0 ? n : 1), sizeof(Conn));
        size_t m = 0;
        FILE *out;

        ep = epoll_create1(EPOLL_CLOEXEC);
        if (port <= 0 || n <= 0 || seconds <= 0 || !when || !latency || !conns || ep < 0)
                return 2;
        for (int i = 0; i < n; i++) {
                conns[i].fd = -1;
                if (conn_send(&conns[i], now()) < 0) {
                        fprintf(stderr, "cannot connect to 127.0.0.1:%d\n", port);
                        return 1;
                }
        }
        end = now() + seconds;
        while (now() < end) {
                struct epoll_event evs[64];
                int k = epoll_wait(ep, evs, 64, 100);
                for (int i = 0; i < k; i++) {
                        Conn *c = evs[i].data.ptr;
                        ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
                        bool close_it = false;
                        if (r <= 0) {
                                /* Closed before answering: the same request on a new one. */
                                conn_close(c);
                                if (conn_send(c, c->sent) < 0)
                                        return 1;
                                continue;
                        }
                        c->len += (size_t) r;
                        c->buf[c->len] = 0;
                        size_t len = response_length(c, &close_it);
                        if (len == 0)
                                continue;
                        double t = now();
                        if (m < MAX_RESPONSES) {
                                when[m] = t;
                                latency[m] = (float) ((t - c->sent) * 1000);
                                m++;
                        }
                        memmove(c->buf, c->buf + len, c->len - len);
                        c->len -= len;
                        if (close_it)
                                conn_close(c);
                        if (conn_send(c, now()) < 0)
                                return 1;
                }
        }
        out = fopen(argv[4], "we");
        if (!out)
                return 1;
        for (size_t i = 0; i < m; i++)
                fprintf(out, "%.4f %.3f\n", when[i], (double) latency[i]);
        fclose(out);
        fprintf(stderr, "%zu responses in %.0f s\n", m, seconds);
        return 0;
}
