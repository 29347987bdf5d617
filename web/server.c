/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acceptor.h"
#include "assets.h"
#include "auth.h"
#include "buf.h"
#include "http.h"
#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "server.h"
#include "webapi.h"

#define USEC_PER_SEC 1000000ULL
/* The whole request (head and body) must arrive within this of the connection. */
#define HEAD_USEC (10 * USEC_PER_SEC)
/* An answer must make progress (or the snapshot it waits for arrive) within this. */
#define IDLE_USEC (30 * USEC_PER_SEC)
/* A comment on every stream this often, so proxies and browsers keep it open. */
#define HEARTBEAT_USEC (15 * USEC_PER_SEC)
#define IN_MAX 8192
#define BODY_MAX 4096
/* A stream whose reader falls this far behind is closed (it reconnects and starts afresh). */
#define STREAM_MAX_BEHIND (8u << 20)
#define INI_MAX (256 * 1024)
/* Log tails open at once (the emperor allows 16 to all its clients), the lines a tail starts
 * with, and the longest line passed on whole (longer ones are cut there). */
#define LOG_TAILS_MAX 8
#define LOG_LINES_DEFAULT 100
#define LOG_LINES_MAX 1000
#define LOG_LINE_MAX (16 * 1024)

typedef enum ClientState {
        CLIENT_READING,   /* the request */
        CLIENT_WAITING,   /* for the fleet snapshot or the emperor's reply */
        CLIENT_WRITING,   /* the answer; closed when written */
        CLIENT_STREAMING, /* the event stream: open until the client goes */
} ClientState;

typedef struct Client Client;
struct Client {
        Server *server;
        Client *next;
        int fd;
        sd_event_source *io;
        sd_event_source *timer;
        struct sockaddr_storage addr;
        socklen_t addr_len;
        bool loopback;
        ClientState state;
        bool head;        /* HEAD: headers only */
        bool waited;      /* for a fresh snapshot, once */
        bool filtered;    /* --tyrant without a login: sees only vassals whose ini uid owns */
        bool uid_known;
        uid_t uid;        /* the peer's, when uid_known */
        char in[IN_MAX];
        size_t in_len;
        Buf out;
        size_t out_off;
        uint64_t log_id;  /* a log tail's stream (0: not one): the id the emperor knows it by */
        char *log_part;   /* the last line's start, until its newline comes */
        size_t log_part_len;
};

struct Server {
        sd_event *event;
        int fd;
        Acceptor *acceptor;
        Client *clients;
        unsigned n_clients, n_streams, n_tails;
        uint64_t next_log_id;
        Fleet *fleet;
        WebApi *api;
        Auth *auth;
        pid_t emperor_pid;
        bool tyrant;
        bool insecure;
        char csrf[65];    /* without --http-auth: one token for the process's life */
        sd_event_source *heartbeat;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* ---- connections ---- */

static void client_free(Client *c) {
        Server *s = c->server;
        for (Client **pp = &s->clients; *pp; pp = &(*pp)->next)
                if (*pp == c) {
                        *pp = c->next;
                        break;
                }
        if (c->state == CLIENT_STREAMING)
                fleet_set_streams(s->fleet, --s->n_streams);
        s->n_clients--;
        fleet_cancel(s->fleet, c);
        if (c->log_id) {
                /* A closed tab ends its tail in the emperor (the reply is not waited for; if the
                 * follow is still on its way, the emperor reads this after it). */
                cJSON *req = cJSON_CreateObject();
                if (req && cJSON_AddStringToObject(req, "cmd", "log-unfollow") &&
                    cJSON_AddNumberToObject(req, "id", (double) c->log_id))
                        (void) fleet_call_json(s->fleet, req, NULL, NULL);
                cJSON_Delete(req);
                s->n_tails--;
        }
        free(c->log_part);
        acceptor_client_gone(s->acceptor);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        safe_close(c->fd);
        buf_done(&c->out);
        free(c);
}

static void client_deadline(Client *c, uint64_t usec) {
        if (usec == 0) {
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(c->timer, now_usec() + usec);
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* Writes what is pending. Returns false when the client is gone (and freed). */
static bool client_flush(Client *c) {
        size_t before = c->out_off;

        while (c->out_off < c->out.len) {
                ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        client_free(c);
                        return false;
                }
                c->out_off += n;
        }
        bool done = c->out_off == c->out.len;
        if (done && c->state == CLIENT_WRITING) {
                client_free(c);
                return false;
        }
        if (done) {
                c->out.len = c->out_off = 0;
                if (c->state == CLIENT_STREAMING)
                        client_deadline(c, 0);
        } else if (c->out_off != before || c->state == CLIENT_STREAMING)
                client_deadline(c, IDLE_USEC);
        (void) sd_event_source_set_io_events(c->io, done ? EPOLLIN : EPOLLIN | EPOLLOUT);
        return true;
}

static const char security_headers[] =
        "X-Content-Type-Options: nosniff\r\n"
        "X-Frame-Options: DENY\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n";

/* The answer, then the connection closes. extra: more header lines ("K: V\r\n"), or NULL. */
static void respond_full(Client *c, int status, const char *type, const void *body, size_t len,
                         const char *extra, const char *cache) {
        buf_printf(&c->out,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Cache-Control: %s\r\nConnection: close\r\n%s%s\r\n",
                   status, http_status_reason(status), type, len, cache, security_headers,
                   strempty(extra));
        if (!c->head)
                buf_put(&c->out, body, len);
        if (c->out.oom) {
                client_free(c);
                return;
        }
        c->state = CLIENT_WRITING;
        (void) sd_event_source_set_io_events(c->io, EPOLLOUT);
        client_deadline(c, IDLE_USEC);
}

static void respond(Client *c, int status, const char *type, const void *body, size_t len) {
        respond_full(c, status, type, body, len, NULL, "no-store");
}

static void respond_text(Client *c, int status) {
        char text[64];
        int n = snprintf(text, sizeof(text), "%d %s\n", status, http_status_reason(status));
        respond(c, status, "text/plain; charset=utf-8", text, (size_t) n);
}

static void respond_json_extra(Client *c, int status, cJSON *j, const char *extra) {
        _cleanup_free_ char *text = j ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!text) {
                respond_text(c, 500);
                return;
        }
        respond_full(c, status, "application/json", text, strlen(text), extra, "no-store");
}

static void respond_json(Client *c, int status, cJSON *j) {
        respond_json_extra(c, status, j, NULL);
}

static void respond_error(Client *c, int status, const char *msg) {
        cJSON *j = cJSON_CreateObject();
        if (j && !cJSON_AddStringToObject(j, "error", msg)) {
                cJSON_Delete(j);
                j = NULL;
        }
        respond_json(c, status, j);
}

/* ---- the fleet ---- */

/* What /api/vassals and the stream list of each vassal: the status summary, without the
 * details only one vassal's page needs. */
static const char *const detail_keys[] = {
        "ini", "log", "sockets", "worker_pids", "uid", "owner", "status", "rt_hist",
};

/* What the control socket would show the caller (control.c may_act()): with --tyrant and no
 * login, only the vassals whose ini the peer's uid owns (root: all; unknown: none). */
static bool visible(const Client *c, const cJSON *v) {
        if (!c || !c->filtered)
                return true;
        if (!c->uid_known)
                return false;
        const cJSON *owner = cJSON_GetObjectItemCaseSensitive(v, "owner");
        return c->uid == 0 || (cJSON_IsNumber(owner) && (uid_t) owner->valuedouble == c->uid);
}

static bool name_visible(const Client *c, const char *name) {
        const cJSON *v = fleet_find(c->server->fleet, name);
        return v && visible(c, v);
}

/* The snapshot's vassals c may see, with their details (for /metrics). */
static cJSON *fleet_visible(const Client *c) {
        cJSON *list = cJSON_CreateArray();
        const cJSON *v;

        cJSON_ArrayForEach(v, fleet_vassals(c->server->fleet))
                if (list && visible(c, v))
                        cJSON_AddItemReferenceToArray(list, (cJSON *) v);
        return list;
}

static cJSON *fleet_summary(const Fleet *f, const Client *c) {
        cJSON *list = cJSON_CreateArray();
        const cJSON *v;

        if (!list)
                return NULL;
        cJSON_ArrayForEach(v, fleet_vassals(f)) {
                if (!visible(c, v))
                        continue;
                cJSON *o = cJSON_Duplicate(v, true);
                if (!o) {
                        cJSON_Delete(list);
                        return NULL;
                }
                for (size_t k = 0; k < ELEMENTSOF(detail_keys); k++)
                        cJSON_DeleteItemFromObjectCaseSensitive(o, detail_keys[k]);
                cJSON_AddItemToArray(list, o);
        }
        return list;
}

static void stream_append(Client *c, const char *text, size_t len) {
        if (c->out.len - c->out_off + len > STREAM_MAX_BEHIND) {
                log_debug("event stream: a client fell behind, closing it");
                client_free(c);
                return;
        }
        buf_put(&c->out, text, len);
        if (c->out.oom) {
                client_free(c);
                return;
        }
        (void) client_flush(c);
}

/* The stream's "fleet" event: {"time": ms, "vassals": [summary...]}. NULL on OOM. */
static char *fleet_event(const Fleet *f, const Client *c) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *list = fleet_summary(f, c);
        if (!o || !list) {
                cJSON_Delete(list);
                return NULL;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        /* The wall-clock time of the snapshot, for rates over its age. */
        double age = (double) (now_usec() - fleet_time(f)) / 1e3;
        cJSON_AddNumberToObject(o, "time",
                                (double) ts.tv_sec * 1e3 + (double) (ts.tv_nsec / 1000000) - age);
        cJSON_AddItemToObject(o, "vassals", list);
        _cleanup_free_ char *json = cJSON_PrintUnformatted(o);
        char *text = NULL;
        if (!json || asprintf(&text, "event: fleet\ndata: %s\n\n", json) < 0)
                return NULL;
        return text;
}

static void on_fleet_update(Fleet *f, void *userdata) {
        Server *s = userdata;

        if (s->n_streams == 0)
                return;
        /* One text for every stream, but for the filtered ones (--tyrant): each its own. */
        _cleanup_free_ char *text = fleet_event(f, NULL);
        if (!text)
                return;
        size_t len = strlen(text);
        for (Client *c = s->clients, *next; c; c = next) {
                next = c->next;
                if (c->state != CLIENT_STREAMING || c->log_id)
                        continue;
                if (!c->filtered) {
                        stream_append(c, text, len);
                        continue;
                }
                _cleanup_free_ char *own = fleet_event(f, c);
                if (own)
                        stream_append(c, own, strlen(own));
        }
}

static int on_heartbeat(sd_event_source *es, uint64_t usec, void *userdata) {
        Server *s = userdata;
        static const char ping[] = ": ping\n\n";

        for (Client *c = s->clients, *next; c; c = next) {
                next = c->next;
                if (c->state == CLIENT_STREAMING)
                        stream_append(c, ping, sizeof(ping) - 1);
        }
        (void) sd_event_source_set_time(es, usec + HEARTBEAT_USEC);
        return 0;
}

static void stream_start(Client *c) {
        Server *s = c->server;
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                   "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n"
                                   "Connection: close\r\n\r\nretry: 1000\n\n";

        c->state = CLIENT_STREAMING;
        fleet_set_streams(s->fleet, ++s->n_streams);
        fleet_demand(s->fleet);
        client_deadline(c, 0);
        (void) sd_event_source_set_io_events(c->io, EPOLLIN);
        _cleanup_free_ char *first = fleet_vassals(s->fleet) ? fleet_event(s->fleet, c) : NULL;
        buf_put(&c->out, head, sizeof(head) - 1);
        if (first)
                stream_append(c, first, strlen(first));
        else
                (void) client_flush(c);
}

/* ---- log tails ----
 *
 * GET /api/vassals/NAME/log?lines=N: Server-Sent Events, "log" with {"lines": [...]} as the
 * vassal's log grows, from its last N lines (default LOG_LINES_DEFAULT), across rotations.
 * emperor-web may not read the log (it runs as --http-user; logs are often root's or the
 * vassal's user's only), so the emperor follows it with `emperorctl logs -f`'s follower and
 * streams the bytes on the control connection (emperor/control.c, log-follow); here they are
 * cut into lines and sent as JSON strings, which the page shows as text. A closed tab ends
 * the tail in the emperor (client_free()). At most LOG_TAILS_MAX at once. */

static Client *log_client(Server *s, uint64_t id) {
        for (Client *c = s->clients; c; c = c->next)
                if (c->log_id == id && c->state == CLIENT_STREAMING)
                        return c;
        return NULL;
}

/* Adds one line (without its newline; a trailing CR dropped) to list. */
static void log_add_line(cJSON *list, const char *p, size_t n) {
        if (n > 0 && p[n - 1] == '\r')
                n--;
        _cleanup_free_ char *line = strndup(p, n);
        if (line)
                cJSON_AddItemToArray(list, cJSON_CreateString(line));
}

/* Sends c's complete lines of what it had plus data as one "log" event. */
static void log_send(Client *c, const char *data, size_t len, const char *end_error) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *list = o ? cJSON_AddArrayToObject(o, "lines") : NULL;
        _cleanup_free_ char *all = malloc(c->log_part_len + len + 1);
        if (!list || !all) {
                client_free(c);
                return;
        }
        memcpy(all, c->log_part ?: "", c->log_part_len);
        memcpy(all + c->log_part_len, data, len);
        size_t n = c->log_part_len + len, start = 0;
        for (size_t k = 0; k < n; k++)
                if (all[k] == '\n') {
                        log_add_line(list, all + start, k - start);
                        start = k + 1;
                } else if (k + 1 - start >= LOG_LINE_MAX) {
                        log_add_line(list, all + start, k + 1 - start);
                        start = k + 1;
                }
        /* The rest waits for its newline. */
        c->log_part = mfree(c->log_part);
        c->log_part_len = n - start;
        if (c->log_part_len > 0) {
                c->log_part = malloc(c->log_part_len);
                if (!c->log_part) {
                        client_free(c);
                        return;
                }
                memcpy(c->log_part, all + start, c->log_part_len);
        }
        if (end_error)
                cJSON_AddStringToObject(o, "end", end_error);
        if (cJSON_GetArraySize(list) == 0 && !end_error)
                return;
        _cleanup_free_ char *json = cJSON_PrintUnformatted(o);
        _cleanup_free_ char *text = NULL;
        if (!json || asprintf(&text, "event: log\ndata: %s\n\n", json) < 0) {
                client_free(c);
                return;
        }
        stream_append(c, text, strlen(text));
}

static void on_log_event(const cJSON *event, void *userdata) {
        Server *s = userdata;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(event, "id");
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(event, "event"));
        if (!streq_ptr(kind, "log") || !cJSON_IsNumber(id))
                return;
        Client *c = log_client(s, (uint64_t) id->valuedouble);
        if (!c)
                return;
        const char *data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(event, "data"));
        const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(event, "error"));
        bool end = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(event, "end"));
        log_send(c, strempty(data), strlen(strempty(data)),
                 end ? (error ? error : "the log tail ended") : NULL);
}

static void on_log_reply(cJSON *reply, void *userdata) {
        Client *c = userdata;
        Server *s = c->server;
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                   "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n"
                                   "Connection: close\r\n\r\n";
        if (!reply) {
                respond_error(c, 502, "the emperor did not answer");
                return;
        }
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
                const char *code = strempty(cJSON_GetStringValue(
                        cJSON_GetObjectItemCaseSensitive(reply, "code")));
                const char *error = cJSON_GetStringValue(
                        cJSON_GetObjectItemCaseSensitive(reply, "error"));
                respond_error(c, streq(code, PROTO_E_NO_SUCH_VASSAL) ? 404 : 409,
                              error ? error : "the emperor refused");
                cJSON_Delete(reply);
                return;
        }
        /* The stream's first event says which file it is. No "retry:": a tail that ends
         * (the browser reconnects after its default delay) starts over from its last lines,
         * and the page clears what it showed. */
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "path"));
        cJSON_AddStringToObject(o, "path", strempty(path));
        cJSON_Delete(reply);
        _cleanup_free_ char *json = cJSON_PrintUnformatted(o);
        _cleanup_free_ char *first = NULL;
        if (!json || asprintf(&first, "event: log-open\ndata: %s\n\n", json) < 0) {
                respond_text(c, 500);
                return;
        }
        c->state = CLIENT_STREAMING;
        fleet_set_streams(s->fleet, ++s->n_streams);
        client_deadline(c, 0);
        (void) sd_event_source_set_io_events(c->io, EPOLLIN);
        buf_put(&c->out, head, sizeof(head) - 1);
        stream_append(c, first, strlen(first));
}

/* GET /api/vassals/NAME/log (NAME checked: the caller may see it). */
static void route_log(Client *c, const char *name, const char *query, size_t query_len) {
        Server *s = c->server;
        uint64_t lines = LOG_LINES_DEFAULT;

        for (const char *q = query, *end = query + query_len; q && q < end;) {
                const char *amp = memchr(q, '&', (size_t) (end - q));
                size_t n = (size_t) ((amp ? amp : end) - q);
                if (n > 6 && memcmp(q, "lines=", 6) == 0) {
                        lines = 0;
                        for (size_t k = 6; k < n; k++) {
                                if (q[k] < '0' || q[k] > '9' || lines > LOG_LINES_MAX) {
                                        respond_error(c, 400, "lines: a number, at most 1000");
                                        return;
                                }
                                lines = lines * 10 + (uint64_t) (q[k] - '0');
                        }
                        if (lines > LOG_LINES_MAX) {
                                respond_error(c, 400, "lines: a number, at most 1000");
                                return;
                        }
                }
                q = amp ? amp + 1 : NULL;
        }
        if (s->n_tails >= LOG_TAILS_MAX) {
                respond_error(c, 503, "too many log tails open: close one");
                return;
        }
        _cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject();
        uint64_t id = ++s->next_log_id;
        if (!req || !cJSON_AddStringToObject(req, "cmd", "log-follow") ||
            !cJSON_AddStringToObject(req, "vassal", name) ||
            !cJSON_AddNumberToObject(req, "id", (double) id) ||
            !cJSON_AddNumberToObject(req, "lines", (double) lines) ||
            fleet_call_json(s->fleet, req, on_log_reply, c) < 0) {
                respond_error(c, 502, "the emperor cannot be asked");
                return;
        }
        c->log_id = id;
        s->n_tails++;
        c->state = CLIENT_WAITING;
        client_deadline(c, IDLE_USEC);
}

/* ---- requests ---- */

static void route(Client *c);

/* The snapshot came (or the wait failed): answer the request kept in c->in. */
static void on_snapshot(cJSON *reply, void *userdata) {
        Client *c = userdata;
        cJSON_Delete(reply);
        route(c);
}

/* Whether the fleet snapshot is recent; if not, the request waits for the next one. */
static bool need_fleet(Client *c) {
        Server *s = c->server;

        fleet_demand(s->fleet);
        if (fleet_fresh(s->fleet))
                return true;
        if (c->waited) {
                /* Waited once already: the last snapshot will do, if there is one. */
                if (fleet_vassals(s->fleet))
                        return true;
                respond_error(c, 503, "the emperor has not answered yet");
                return false;
        }
        if (fleet_wait(s->fleet, on_snapshot, c) < 0) {
                respond_text(c, 500);
                return false;
        }
        c->state = CLIENT_WAITING;
        c->waited = true;
        client_deadline(c, IDLE_USEC);
        return false;
}

static const char *header(const HttpRequest *req, const char *name, char *buf, size_t size) {
        const HttpHeader *h = http_request_header(req, name);
        if (!h || h->value_len >= size)
                return NULL;
        memcpy(buf, h->value, h->value_len);
        buf[h->value_len] = 0;
        return buf;
}

/* Whether the Host header names an address literal or localhost (or is absent: HTTP/1.0). */
static bool host_local(const HttpRequest *req) {
        char host[256];
        const HttpHeader *h = http_request_header(req, "Host");
        if (!h)
                return true;
        if (!header(req, "Host", host, sizeof(host)))
                return false;
        if (host[0] == '[')
                return strchr(host, ']') != NULL; /* an IPv6 literal */
        char *colon = strrchr(host, ':');
        if (colon)
                *colon = 0;
        struct in_addr a;
        return strcaseeq(host, "localhost") || inet_pton(AF_INET, host, &a) == 1;
}

/* A same-origin request by the browser's word: Origin names the Host we were asked by. A
 * POST without Origin is refused (every browser sends it on a POST; curl must say it). */
static bool same_origin(const HttpRequest *req) {
        char origin[300], host[256], site[32], want[300];

        if (!header(req, "Origin", origin, sizeof(origin)) ||
            !header(req, "Host", host, sizeof(host)))
                return false;
        if (header(req, "Sec-Fetch-Site", site, sizeof(site)) && !streq(site, "same-origin"))
                return false;
        snprintf(want, sizeof(want), "http://%s", host);
        if (streq(origin, want))
                return true;
        snprintf(want, sizeof(want), "https://%s", host);
        return streq(origin, want);
}

/* Compares in time independent of where they differ. */
static bool token_equal(const char *a, const char *b) {
        size_t n = strlen(b);
        unsigned char d = 0;
        if (strlen(a) != n || n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                d |= (unsigned char) (a[i] ^ b[i]);
        return d == 0;
}

static void on_action_reply(cJSON *reply, void *userdata) {
        Client *c = userdata;
        if (!reply) {
                respond_error(c, 502, "the emperor did not answer");
                return;
        }
        int status = 200;
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
                const char *code = strempty(cJSON_GetStringValue(
                        cJSON_GetObjectItemCaseSensitive(reply, "code")));
                status = streq(code, PROTO_E_NO_SUCH_VASSAL) ? 404
                         : streq(code, PROTO_E_PERMISSION)   ? 403
                         : streq(code, PROTO_E_FAILED)       ? 409
                                                             : 400;
        }
        respond_json(c, status, reply);
}

static const char *const actions[] = { "reload", "chain-reload", "restart", "stop", "start" };

/* POST /api/vassals/NAME/ACTION (name and action split off already). */
static void route_action(Client *c, const char *name, const char *action) {
        bool known = false;
        for (size_t k = 0; k < ELEMENTSOF(actions); k++)
                known = known || streq(actions[k], action);
        if (!known || !proto_name_valid(name)) {
                respond_error(c, 404, "no such action");
                return;
        }
        log_info("'%s' asked for %s '%s'", "dashboard", action, name);
        if (fleet_call(c->server->fleet, action, name, on_action_reply, c) < 0) {
                respond_error(c, 502, "the emperor cannot be asked");
                return;
        }
        c->state = CLIENT_WAITING;
        client_deadline(c, IDLE_USEC);
}

static void route_ini(Client *c, const cJSON *v) {
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "ini"));
        if (!path) {
                respond_error(c, 404, "no ini");
                return;
        }
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                respond_error(c, errno == EACCES ? 403 : 404,
                              errno == EACCES ? "the dashboard may not read this ini"
                                              : "the ini cannot be read");
                return;
        }
        _cleanup_free_ char *text = malloc(INI_MAX);
        ssize_t n = text ? read(fd, text, INI_MAX) : -1;
        if (n < 0) {
                respond_error(c, 500, "the ini cannot be read");
                return;
        }
        respond(c, 200, "text/plain; charset=utf-8", text, (size_t) n);
}

static void route_asset(Client *c, const char *name) {
        const Asset *a = asset_find(name);
        if (!a) {
                respond_text(c, 404);
                return;
        }
        respond_full(c, 200, a->type, a->data, a->len, NULL, "no-cache");
}

/* The request body (after the head) when it is complete; 0 while more is due, -1 refused. */
static int request_body(Client *c, const HttpRequest *req, size_t head_len, const char **ret,
                        size_t *ret_len) {
        if (req->chunked) {
                respond_text(c, 411);
                return -1;
        }
        size_t want = req->content_length > 0 ? (size_t) req->content_length : 0;
        if (want > BODY_MAX) {
                respond_text(c, 413);
                return -1;
        }
        if (c->in_len < head_len + want)
                return 0;
        *ret = c->in + head_len;
        *ret_len = want;
        return 1;
}

static void route_login(Client *c, const char *body, size_t len) {
        Server *s = c->server;
        char text[BODY_MAX + 1];

        memcpy(text, body, len);
        text[len] = 0;
        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(text);
        const char *user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "user"));
        const char *password =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "password"));
        if (!user || !password) {
                respond_error(c, 400, "expected {\"user\": ..., \"password\": ...}");
                return;
        }
        _cleanup_free_ char *cookie = NULL;
        if (auth_login(s->auth, user, password, &cookie) < 0) {
                log_notice("login of '%.64s' refused", user);
                respond_error(c, 403, "wrong user or password");
                return;
        }
        log_info("'%.64s' logged in", user);
        _cleanup_free_ char *extra = NULL;
        if (asprintf(&extra, "Set-Cookie: %s\r\n", cookie) < 0) {
                respond_text(c, 500);
                return;
        }
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "user", user);
        respond_json_extra(c, 200, r, extra);
}

/* --tyrant without a login: a vassal's history and events only when the caller may see it.
 * Returns false when answered (or waiting for the snapshot). */
static bool filter_history(Client *c, const char *path) {
        char name[129];
        if (strncmp(path, "/api/vassals/", 13) != 0)
                return need_fleet(c); /* /api/events: filtered by the snapshot */
        const char *slash = strchr(path + 13, '/');
        size_t n = slash ? (size_t) (slash - (path + 13)) : 0;
        if (!slash || n == 0 || n >= sizeof(name))
                return true;
        memcpy(name, path + 13, n);
        name[n] = 0;
        if (!need_fleet(c))
                return false;
        if (!name_visible(c, name)) {
                respond_error(c, 404, "no such vassal");
                return false;
        }
        return true;
}

/* The same for /api/events: only the emperor's events and those of vassals the caller may see
 * in the snapshot the filter above waited for. */
static void filter_events(const Client *c, cJSON *j) {
        cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "events");
        for (cJSON *e = list ? list->child : NULL, *next; e; e = next) {
                next = e->next;
                const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "vassal"));
                if (v && !name_visible(c, v))
                        cJSON_Delete(cJSON_DetachItemViaPointer(list, e));
        }
}

static void route(Client *c) {
        Server *s = c->server;
        HttpRequest req;
        char path[512];
        const char *user = NULL, *csrf = s->csrf;

        int head_len = http_request_parse(c->in, c->in_len, &req);
        if (head_len <= 0) { /* checked by the caller: cannot happen */
                respond_text(c, 400);
                return;
        }
        c->head = req.method_len == 4 && memcmp(req.method, "HEAD", 4) == 0;
        bool get = c->head || (req.method_len == 3 && memcmp(req.method, "GET", 3) == 0);
        bool post = req.method_len == 4 && memcmp(req.method, "POST", 4) == 0;

        if (req.path_len >= sizeof(path)) {
                respond_text(c, 414);
                return;
        }
        size_t n = http_percent_decode(path, req.path, req.path_len);
        path[n] = 0;
        if (strlen(path) != n) { /* %00 */
                respond_text(c, 400);
                return;
        }
        if (!get && !post) {
                respond_text(c, 405);
                return;
        }
        if (get && (streq(path, "/") || streq(path, "/index.html"))) {
                route_asset(c, "index.html");
                return;
        }
        if (get && strncmp(path, "/assets/", 8) == 0) {
                route_asset(c, path + 8);
                return;
        }

        /* DNS rebinding: a page of evil.example, its name pointed at 127.0.0.1, is the same
         * origin as the dashboard to the browser. Without logins (a loopback listener) only
         * an address or "localhost" may name us. */
        if (!s->auth && !s->insecure && !host_local(&req)) {
                respond_error(c, 421, "use the dashboard's address (or localhost)");
                return;
        }
        const char *body = NULL;
        size_t body_len = 0;
        if (post && strncmp(path, "/api/vassals/", 13) != 0 && !streq(path, "/login") &&
            !streq(path, "/logout")) {
                respond_text(c, 405);
                return;
        }
        if (post) {
                int r = request_body(c, &req, (size_t) head_len, &body, &body_len);
                if (r <= 0) {
                        if (r == 0)
                                c->state = CLIENT_READING; /* more to come */
                        return;
                }
                if (!same_origin(&req)) {
                        respond_error(c, 403, "cross-origin request refused");
                        return;
                }
        }
        if (s->auth) {
                if (post && streq(path, "/login")) {
                        route_login(c, body, body_len);
                        return;
                }
                if (post && streq(path, "/logout")) {
                        auth_logout(s->auth, &req);
                        _cleanup_free_ char *extra = NULL;
                        if (asprintf(&extra, "Set-Cookie: %s\r\n", auth_clear_cookie()) < 0)
                                extra = NULL;
                        respond_json_extra(c, 200, cJSON_CreateObject(), extra);
                        return;
                }
                user = auth_check(s->auth, &req, &csrf);
                if (!user) {
                        respond_full(c, 401, "application/json", "{\"error\":\"login required\"}",
                                     26, streq(path, "/metrics")
                                                 ? "WWW-Authenticate: Basic realm=\"emperor\"\r\n"
                                                 : NULL, "no-store");
                        return;
                }
        }
        c->filtered = s->tyrant && !user;
        if (post) {
                char token[80];
                if (!csrf || !header(&req, "X-CSRF-Token", token, sizeof(token)) ||
                    !token_equal(token, csrf)) {
                        respond_error(c, 403, "missing or wrong CSRF token");
                        return;
                }
                const char *rest = strncmp(path, "/api/vassals/", 13) == 0 ? path + 13 : NULL;
                char *slash = rest ? strchr(rest, '/') : NULL;
                if (!slash) {
                        respond_text(c, streq(path, "/metrics") ? 405 : 404);
                        return;
                }
                *slash = 0;
                if (c->filtered) {
                        if (!need_fleet(c))
                                return;
                        if (!name_visible(c, rest)) {
                                respond_error(c, 404, "no such vassal");
                                return;
                        }
                }
                route_action(c, rest, slash + 1);
                return;
        }

        if (streq(path, "/api/session")) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddStringToObject(r, "csrf", strempty(csrf));
                if (user)
                        cJSON_AddStringToObject(r, "user", user);
                else
                        cJSON_AddNullToObject(r, "user");
                cJSON_AddBoolToObject(r, "auth", s->auth != NULL);
                respond_json(c, 200, r);
                return;
        }
        if (streq(path, "/api/stream")) {
                stream_start(c);
                return;
        }
        if (streq(path, "/metrics")) {
                if (!need_fleet(c))
                        return;
                Buf b = {};
                cJSON *list = c->filtered ? fleet_visible(c) : NULL;
                metrics_render(&b, c->filtered ? list : fleet_vassals(s->fleet), s->emperor_pid);
                cJSON_Delete(list);
                if (b.oom)
                        respond_text(c, 500);
                else
                        respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
                buf_done(&b);
                return;
        }
        if (streq(path, "/api/vassals") || streq(path, "/api/vassals/")) {
                if (!need_fleet(c))
                        return;
                cJSON *r = cJSON_CreateObject();
                cJSON *list = fleet_summary(s->fleet, c);
                if (r && list)
                        cJSON_AddItemToObject(r, "vassals", list);
                else
                        cJSON_Delete(list);
                respond_json(c, 200, r);
                return;
        }
        int status;
        cJSON *j;
        if (c->filtered && strncmp(path, "/api/", 5) == 0 && !filter_history(c, path))
                return;
        if (s->api && webapi_route(s->api, path, req.query, req.query_len, &status, &j)) {
                if (j && c->filtered)
                        filter_events(c, j);
                if (j)
                        respond_json(c, status, j);
                else
                        respond_text(c, 500);
                if (webapi_lost(s->api)) {
                        log_error("the stats store cannot be read any more, exiting to be "
                                  "restarted");
                        (void) sd_event_exit(s->event, EXIT_FAILURE);
                }
                return;
        }
        if (strncmp(path, "/api/vassals/", 13) == 0) {
                char *name = path + 13, *sub = strchr(name, '/');
                if (sub)
                        *sub++ = 0;
                if (sub && !streq(sub, "ini") && !streq(sub, "log")) {
                        respond_error(c, 404, "not found");
                        return;
                }
                if (!need_fleet(c))
                        return;
                const cJSON *v = proto_name_valid(name) ? fleet_find(s->fleet, name) : NULL;
                if (v && !visible(c, v))
                        v = NULL;
                if (!v) {
                        respond_error(c, 404, "no such vassal");
                        return;
                }
                if (sub && streq(sub, "log"))
                        route_log(c, name, req.query, req.query_len);
                else if (sub)
                        route_ini(c, v);
                else
                        respond_json(c, 200, cJSON_Duplicate(v, true));
                return;
        }
        respond_text(c, 404);
}

static int on_client(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Client *c = userdata;
        (void) es;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                if (c->state != CLIENT_READING) {
                        /* Nothing more is read from a client that was answered (or is being);
                         * a closed peer shows as EOF here. */
                        char sink[512];
                        ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
                        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                                client_free(c);
                                return 0;
                        }
                } else {
                        ssize_t n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
                                         MSG_DONTWAIT);
                        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                                client_free(c);
                                return 0;
                        }
                        if (n > 0)
                                c->in_len += n;
                        HttpRequest req;
                        int k = http_request_parse(c->in, c->in_len, &req);
                        if (k > 0) {
                                c->state = CLIENT_WAITING; /* route() says what comes next */
                                route(c);
                                return 0;
                        }
                        if (k < 0)
                                respond_text(c, -k);
                        else if (c->in_len == sizeof(c->in))
                                respond_text(c, 431);
                        else
                                return 0;
                }
        }
        if (revents & EPOLLOUT)
                (void) client_flush(c);
        return 0;
}

static int on_client_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        Client *c = userdata;
        (void) es;
        (void) usec;
        log_debug("a client took too long (%s), closing it",
                  c->state == CLIENT_READING ? "its request" : "its answer");
        client_free(c);
        return 0;
}

static bool addr_loopback(const struct sockaddr_storage *a) {
        if (a->ss_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *) a)->sin_addr.s_addr) >> 24) == 127;
        if (a->ss_family == AF_INET6) {
                const struct in6_addr *x = &((const struct sockaddr_in6 *) a)->sin6_addr;
                return IN6_IS_ADDR_LOOPBACK(x) ||
                       (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127);
        }
        return a->ss_family == AF_UNIX;
}

/* The uid of the process on the other end: SO_PEERCRED for a unix socket; for a loopback TCP
 * connection the owner of the peer's socket in /proc/net/tcp[6] (its local address is our
 * peer's, its remote one ours). -ENOENT when it cannot be known (a remote peer). */
static int peer_uid(int fd, const struct sockaddr_storage *peer, uid_t *ret) {
        struct sockaddr_storage self;
        socklen_t len = sizeof(self);

        if (peer->ss_family == AF_UNIX) {
                struct ucred cred;
                socklen_t cl = sizeof(cred);
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
                        return -errno;
                *ret = cred.uid;
                return 0;
        }
        if (!addr_loopback(peer) || getsockname(fd, (struct sockaddr *) &self, &len) < 0)
                return -ENOENT;
        bool v6 = peer->ss_family == AF_INET6;
        FILE *f = fopen(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "re");
        if (!f)
                return -errno;
        char line[512];
        int r = -ENOENT;
        while (r < 0 && fgets(line, sizeof(line), f)) {
                uint32_t la[4] = {}, ra[4] = {};
                unsigned lp, rp, uid;
                int ok;
                if (v6)
                        ok = sscanf(line, " %*d: %8X%8X%8X%8X:%X %8X%8X%8X%8X:%X %*x %*x:%*x "
                                          "%*x:%*x %*x %u", &la[0], &la[1], &la[2], &la[3], &lp,
                                    &ra[0], &ra[1], &ra[2], &ra[3], &rp, &uid) == 11;
                else
                        ok = sscanf(line, " %*d: %X:%X %X:%X %*x %*x:%*x %*x:%*x %*x %u", &la[0],
                                    &lp, &ra[0], &rp, &uid) == 5;
                if (!ok)
                        continue;
                if (v6) {
                        const struct sockaddr_in6 *p = (const void *) peer;
                        const struct sockaddr_in6 *m = (const void *) &self;
                        if (lp == ntohs(p->sin6_port) && rp == ntohs(m->sin6_port) &&
                            memcmp(la, &p->sin6_addr, 16) == 0 &&
                            memcmp(ra, &m->sin6_addr, 16) == 0)
                                r = 0;
                } else {
                        const struct sockaddr_in *p = (const void *) peer;
                        const struct sockaddr_in *m = (const void *) &self;
                        if (lp == ntohs(p->sin_port) && rp == ntohs(m->sin_port) &&
                            la[0] == p->sin_addr.s_addr && ra[0] == m->sin_addr.s_addr)
                                r = 0;
                }
                if (r == 0)
                        *ret = (uid_t) uid;
        }
        fclose(f);
        return r;
}

static bool addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
        if (a->ss_family != b->ss_family)
                return false;
        if (a->ss_family == AF_INET)
                return ((const struct sockaddr_in *) a)->sin_addr.s_addr ==
                       ((const struct sockaddr_in *) b)->sin_addr.s_addr;
        if (a->ss_family == AF_INET6)
                return memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr,
                              &((const struct sockaddr_in6 *) b)->sin6_addr,
                              sizeof(struct in6_addr)) == 0;
        return true; /* unix: one local peer */
}

/* Refuses quickly and politely what is over a cap: the answer fits the socket buffer. */
static void refuse(int fd, const char *why) {
        char text[256];
        int n = snprintf(text, sizeof(text),
                         "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                         "Content-Length: %zu\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s\n",
                         strlen(why) + 1, why);
        (void) !send(fd, text, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* The oldest connection (of addr, or of anyone when addr is NULL) that has not sent its whole
 * request yet; NULL when none. The list is newest first. */
static Client *oldest_reading(Server *s, const struct sockaddr_storage *addr) {
        Client *found = NULL;
        for (Client *o = s->clients; o; o = o->next)
                if (o->state == CLIENT_READING && (!addr || addr_same(&o->addr, addr)))
                        found = o;
        return found;
}

/* Whether c may come in. Past a cap, the oldest connection still sending its request (of c's
 * address for the per-address cap, of anyone for the total) is closed to make room: someone
 * holding idle connections cannot keep a scrape out, since the scrape's request comes at once
 * and theirs never does. Only when every connection is busy answering is c refused. The last
 * SERVER_LOOPBACK_SLOTS are for loopback peers alone. */
static bool admit(Server *s, const Client *c) {
        unsigned same = 0;
        for (Client *o = s->clients; o; o = o->next)
                same += addr_same(&o->addr, &c->addr);
        if (same >= SERVER_MAX_PER_ADDR) {
                Client *victim = oldest_reading(s, &c->addr);
                if (!victim)
                        return false;
                log_debug("too many connections from one address: closing its oldest idle one");
                client_free(victim);
        }
        unsigned limit = c->loopback ? SERVER_MAX_CLIENTS
                                     : SERVER_MAX_CLIENTS - SERVER_LOOPBACK_SLOTS;
        if (s->n_clients >= limit) {
                Client *victim = oldest_reading(s, NULL);
                if (!victim)
                        return false;
                log_debug("too many connections: closing the oldest idle one");
                client_free(victim);
        }
        return true;
}

static int on_accept(Acceptor *a, int cfd, void *userdata) {
        Server *s = userdata;
        Client *c = calloc(1, sizeof(Client));
        (void) a;

        if (!c)
                return -ENOMEM;
        c->addr_len = sizeof(c->addr);
        if (getpeername(cfd, (struct sockaddr *) &c->addr, &c->addr_len) < 0)
                c->addr.ss_family = AF_UNSPEC;
        c->loopback = addr_loopback(&c->addr);
        if (s->tyrant)
                c->uid_known = peer_uid(cfd, &c->addr, &c->uid) == 0;
        if (!admit(s, c)) {
                refuse(cfd, "too many connections");
                free(c);
                return -EBUSY;
        }
        c->server = s;
        c->fd = cfd;
        c->state = CLIENT_READING;
        if (sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_client, c) < 0 ||
            sd_event_add_time_relative(s->event, &c->timer, CLOCK_MONOTONIC, HEAD_USEC,
                                       100 * 1000, on_client_timeout, c) < 0) {
                sd_event_source_disable_unref(c->io);
                free(c);
                return -ENOMEM;
        }
        c->next = s->clients;
        s->clients = c;
        s->n_clients++;
        return 0;
}

int server_new(sd_event *e, const ServerOptions *o, Server **ret) {
        Server *s = calloc(1, sizeof(Server));
        unsigned char rnd[32];
        int r;

        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->fd = o->fd;
        s->fleet = o->fleet;
        s->api = o->api;
        s->auth = o->auth;
        s->emperor_pid = o->emperor_pid;
        s->tyrant = o->tyrant;
        s->insecure = o->insecure;
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
                server_free(s);
                return -EIO;
        }
        for (size_t i = 0; i < sizeof(rnd); i++)
                snprintf(s->csrf + 2 * i, 3, "%02x", rnd[i]);
        /* Without login the token only proves the page came from us: one does for all. */
        if (s->auth)
                s->csrf[0] = 0;
        fleet_set_update(s->fleet, on_fleet_update, s);
        fleet_set_event(s->fleet, on_log_event, s);
        /* The acceptor's own cap is the hard bound on descriptors; ours (on_accept) answers
         * those over it with a 503 rather than leaving them in the backlog. */
        r = acceptor_new(e, s->fd,
                         &(AcceptorOptions) { .max_clients = SERVER_MAX_CLIENTS + 64 },
                         on_accept, s, &s->acceptor);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &s->heartbeat, CLOCK_MONOTONIC, HEARTBEAT_USEC,
                                               USEC_PER_SEC, on_heartbeat, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->heartbeat, SD_EVENT_ON);
        if (r < 0) {
                server_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

Server *server_free(Server *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        s->acceptor = acceptor_free(s->acceptor);
        sd_event_source_disable_unref(s->heartbeat);
        safe_close(s->fd);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
