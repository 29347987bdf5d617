/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acceptor.h"
#include "log.h"
#include "master.h"
#include "sockutil.h"
#include "statsserver.h"

/* The largest HTTP request head kept; what follows is read and dropped. */
#define STATS_HEAD_MAX 8192
/* After the response, how long we read what the client still sends (so our close does not
 * reset a response it has not read yet). */
#define STATS_LINGER_USEC (2 * 1000000ULL)
#define STATS_BACKLOG 64

char *stats_json(Scoreboard *sb, const ListenerSet *ls, const Guard *guard,
                 const ScoreboardWindow *window, const char *log_path, bool cores,
                 size_t max_size) {
        _cleanup_free_ ScoreboardSocket *sockets = calloc(MAX(ls->n, (size_t) 1),
                                                          sizeof(ScoreboardSocket));
        char cwd[PATH_MAX];
        uint64_t queue = 0;

        if (!sockets)
                return NULL;
        for (size_t i = 0; i < ls->n; i++) {
                const Listener *l = &ls->items[i];
                ScoreboardSocket *so = &sockets[i];
                so->name = l->address;
                so->proto = l->proto == SOCKET_HTTP ? "http" : "uwsgi";
                if (l->tcp && guard_listener_queue(l->fd, &so->queue, &so->max_queue))
                        queue += so->queue;
        }
        ScoreboardInfo info = {
                .version = EMPEROR_VERSION,
                .pid = getpid(),
                .listen_queue = queue,
                .listen_queue_errors = guard_listen_queue_errors(guard),
                .uid = getuid(),
                .gid = getgid(),
                .cwd = getcwd(cwd, sizeof(cwd)) ? cwd : "",
                .log = log_path,
                .sockets = sockets,
                .n_sockets = ls->n,
                .cores = cores,
                .window = window,
        };
        return scoreboard_stats_json(sb, &info, max_size);
}

typedef enum ClientState {
        CLIENT_READ_HEAD, /* stats-http: until the end of the request head */
        CLIENT_WRITE,
        CLIENT_LINGER, /* written and shut down for writing: reading until the client closes */
} ClientState;

typedef struct StatsClient StatsClient;

struct StatsServer {
        char *address;
        bool http;
        int fd;
        char *unix_path; /* the socket file we made */
        dev_t unix_dev;
        ino_t unix_ino;
        sd_event *event;
        Acceptor *acceptor;            /* STATS_CLIENTS_MAX at once; pauses on EMFILE */
        sd_event_source *retry_timer; /* binding again (address in use) */
        Scoreboard *scoreboard;
        const ListenerSet *listeners;
        const Guard *guard;
        const ScoreboardWindow *window;
        const char *log_path; /* the config's, which outlives the server */
        StatsClient *clients;
};

struct StatsClient {
        StatsServer *server;
        int fd;
        ClientState state;
        sd_event_source *io;
        sd_event_source *timer;
        char *head;
        size_t head_len;
        char *out;
        size_t out_len, out_off;
        StatsClient *prev, *next;
};

static void client_free(StatsClient *c) {
        StatsServer *s = c->server;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        safe_close(c->fd);
        free(c->head);
        free(c->out);
        free(c);
        /* A slot is free again: the acceptor takes what waited in the backlog. */
        acceptor_client_gone(s->acceptor);
}

static int on_client_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        StatsClient *c = userdata;
        (void) src;
        (void) usec;
        if (c->state != CLIENT_LINGER)
                log_debug("stats client on fd %d timed out, closing it", c->fd);
        client_free(c);
        return 0;
}

/* The response: the JSON, behind an HTTP head with stats-http (none for HEAD). */
static int client_prepare(StatsClient *c) {
        StatsServer *s = c->server;
        _cleanup_free_ char *json = stats_json(s->scoreboard, s->listeners, s->guard, s->window,
                                               s->log_path, true, SIZE_MAX);
        if (!json)
                return -ENOMEM;
        size_t n = strlen(json);
        if (!s->http) {
                c->out = TAKE_PTR(json);
                c->out_len = n;
                return 0;
        }
        bool head = c->head_len >= 5 && memcmp(c->head, "HEAD ", 5) == 0;
        int k = asprintf(&c->out,
                         "HTTP/1.0 200 OK\r\n"
                         "Content-Type: application/json\r\n"
                         "Content-Length: %zu\r\n"
                         "Access-Control-Allow-Origin: *\r\n"
                         "Cache-Control: no-store\r\n"
                         "Connection: close\r\n"
                         "\r\n"
                         "%s",
                         n, head ? "" : json);
        if (k < 0) {
                c->out = NULL;
                return -ENOMEM;
        }
        c->out_len = (size_t) k;
        return 0;
}

/* Writes what the socket takes. Returns 1 when all is written, 0 to wait, -errno. */
static int client_write(StatsClient *c) {
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : -errno;
                }
                c->out_off += n;
        }
        return 1;
}

/* Written: a FIN now, then read until the client's own close (bounded by the timer). */
static int client_linger(StatsClient *c) {
        c->state = CLIENT_LINGER;
        c->out = mfree(c->out);
        (void) shutdown(c->fd, SHUT_WR);
        int r = sd_event_source_set_io_events(c->io, EPOLLIN);
        if (r >= 0)
                r = sd_event_source_set_time_relative(c->timer, STATS_LINGER_USEC);
        return r;
}

static int client_respond(StatsClient *c) {
        int r = client_prepare(c);
        if (r < 0)
                return r;
        c->state = CLIENT_WRITE;
        r = client_write(c);
        if (r < 0)
                return r;
        if (r > 0)
                return client_linger(c);
        return sd_event_source_set_io_events(c->io, EPOLLOUT);
}

/* Whether the head holds a complete request head ("\r\n\r\n", or bare "\n\n"). */
static bool head_complete(const char *h, size_t n) {
        for (size_t i = 0; i + 1 < n; i++) {
                if (h[i] != '\n')
                        continue;
                if (h[i + 1] == '\n' || (h[i + 1] == '\r' && i + 2 < n && h[i + 2] == '\n'))
                        return true;
        }
        return false;
}

static int on_client_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        StatsClient *c = userdata;
        char drop[4096];
        int r = 0;
        (void) src;

        switch (c->state) {
        case CLIENT_READ_HEAD: {
                char *buf = c->head_len < STATS_HEAD_MAX ? c->head + c->head_len : drop;
                size_t room = c->head_len < STATS_HEAD_MAX ? STATS_HEAD_MAX - c->head_len
                                                           : sizeof(drop);
                ssize_t n = recv(fd, buf, room, MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n <= 0) {
                        /* The client went away (or half-closed without a full head: it gets
                         * the response all the same). */
                        if (n < 0 || c->head_len == 0) {
                                client_free(c);
                                return 0;
                        }
                } else if (buf != drop) {
                        c->head_len += n;
                        /* Not the end yet, and room for more: wait for it. A head longer than
                         * we keep is answered as it is. */
                        if (!head_complete(c->head, c->head_len) && c->head_len < STATS_HEAD_MAX)
                                return 0;
                }
                r = client_respond(c);
                break;
        }
        case CLIENT_WRITE:
                if (revents & (EPOLLERR | EPOLLHUP)) {
                        client_free(c);
                        return 0;
                }
                r = client_write(c);
                if (r > 0)
                        r = client_linger(c);
                break;
        case CLIENT_LINGER: {
                ssize_t n = recv(fd, drop, sizeof(drop), MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n <= 0) {
                        client_free(c);
                        return 0;
                }
                break;
        }
        }
        if (r < 0) {
                log_debug_errno(r, "stats client on fd %d: %m, closing it", fd);
                client_free(c);
        }
        return 0;
}

/* A new connection (lib/acceptor.c). Returns 0 once it is the client's, even when it failed at
 * once and is closed again; < 0 when it could not be taken (the acceptor closes fd). */
static int on_accept(Acceptor *a, int fd, void *userdata) {
        StatsServer *s = userdata;
        _cleanup_free_ char *head = NULL;
        (void) a;
        if (s->http) {
                head = malloc(STATS_HEAD_MAX);
                if (!head)
                        return -ENOMEM;
        }
        StatsClient *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (StatsClient) {
                .server = s,
                .fd = fd,
                .state = s->http ? CLIENT_READ_HEAD : CLIENT_WRITE,
                .head = TAKE_PTR(head),
                .next = s->clients,
        };
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;

        int r = sd_event_add_io(s->event, &c->io, c->fd, s->http ? EPOLLIN : EPOLLOUT,
                                on_client_io, c);
        if (r >= 0)
                r = sd_event_add_time_relative(s->event, &c->timer, CLOCK_MONOTONIC,
                                               STATS_CLIENT_TIMEOUT_USEC, 0, on_client_timeout, c);
        /* Raw: the JSON goes out at once, whatever the client sends. */
        if (r >= 0 && !s->http)
                r = client_respond(c);
        if (r < 0) {
                log_debug_errno(r, "stats client: %m, closing it");
                client_free(c);
        }
        return 0;
}

/* Binds; -EADDRINUSE is for the caller to retry. */
static int server_bind(StatsServer *s) {
        int fd = socket_listen(s->address, STATS_BACKLOG, -1, NULL, &s->unix_path);
        if (fd < 0)
                return fd;
        /* socket_listen tunes listeners for HTTP workers: a raw stats client sends nothing,
         * so deferring accept() until data arrives would leave it waiting. */
        int zero = 0;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &zero, sizeof(zero));
        struct stat st;
        if (s->unix_path && lstat(s->unix_path, &st) == 0) {
                s->unix_dev = st.st_dev;
                s->unix_ino = st.st_ino;
        }
        s->fd = fd;
        return 0;
}

static int server_listen(StatsServer *s) {
        int r = acceptor_new(s->event, s->fd,
                             &(AcceptorOptions) { .max_clients = STATS_CLIENTS_MAX,
                                                  .pause_usec = 1000000 },
                             on_accept, s, &s->acceptor);
        if (r < 0)
                return log_error_errno(r, "stats: cannot watch '%s': %m", s->address);
        log_info("stats server on '%s'%s", s->address, s->http ? " (HTTP)" : "");
        return 0;
}

static int on_retry(sd_event_source *src, uint64_t usec, void *userdata) {
        StatsServer *s = userdata;
        (void) usec;
        s->retry_timer = sd_event_source_disable_unref(src);
        int r = server_bind(s);
        if (r == -EADDRINUSE)
                return sd_event_add_time_relative(s->event, &s->retry_timer, CLOCK_MONOTONIC,
                                                  1000000, 0, on_retry, s);
        if (r < 0) {
                log_error_errno(r, "stats: cannot bind '%s': %m; no stats server", s->address);
                return 0;
        }
        log_notice("stats: '%s' is free now", s->address);
        (void) server_listen(s);
        return 0;
}

int stats_server_new(const char *address, bool http, StatsServer **ret) {
        StatsServer *s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        s->fd = -1;
        s->http = http;
        s->address = strdup(address);
        if (!s->address) {
                free(s);
                return log_oom();
        }
        int r = server_bind(s);
        if (r == -EADDRINUSE)
                log_warning("stats: '%s' is in use (the vassal we replace?), retrying every "
                            "second", address);
        else if (r < 0) {
                log_error_errno(r, "stats: cannot bind '%s': %m", address);
                stats_server_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int stats_server_start(StatsServer *s, sd_event *e, Scoreboard *sb, const ListenerSet *ls,
                       const Guard *guard, const ScoreboardWindow *window, const char *log_path) {
        s->event = e;
        s->log_path = log_path;
        s->scoreboard = sb;
        s->listeners = ls;
        s->guard = guard;
        s->window = window;
        if (s->fd < 0)
                return sd_event_add_time_relative(e, &s->retry_timer, CLOCK_MONOTONIC, 1000000,
                                                  0, on_retry, s);
        return server_listen(s);
}

void stats_server_close_in_child(StatsServer *s) {
        if (!s)
                return;
        for (StatsClient *c = s->clients; c; c = c->next)
                c->fd = safe_close(c->fd);
        s->fd = safe_close(s->fd);
}

StatsServer *stats_server_free(StatsServer *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        s->acceptor = acceptor_free(s->acceptor);
        sd_event_source_disable_unref(s->retry_timer);
        safe_close(s->fd);
        /* Only our own file: a vassal started beside us may have bound the path since. */
        struct stat st;
        if (s->unix_path && lstat(s->unix_path, &st) == 0 && st.st_dev == s->unix_dev &&
            st.st_ino == s->unix_ino)
                (void) unlink(s->unix_path);
        free(s->unix_path);
        free(s->address);
        free(s);
        return NULL;
}
