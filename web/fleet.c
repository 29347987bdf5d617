/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "fleet.h"
#include "jsonutil.h"
#include "log.h"
#include "macro.h"
#include "proto.h"

/* A status of a thousand vassals with their details is about 2 MB; past this the emperor is
 * not one we understand. */
#define FLEET_MAX_REPLY (64u << 20)
/* The emperor closes a control client silent for 15 s (CONTROL_IDLE_USEC in emperor/control.c). */
#define FLEET_KEEPALIVE_USEC (10 * 1000 * 1000ULL)

typedef struct Pending Pending;
struct Pending {
        Pending *next;
        bool poll;           /* our own status poll; else a caller's request */
        fleet_reply_t cb;    /* NULL once the caller is gone */
        void *userdata;
};

typedef struct Waiter Waiter;
struct Waiter {
        Waiter *next;
        fleet_reply_t cb;
        void *userdata;
};

struct Fleet {
        sd_event *event;
        int fd;
        sd_event_source *io;
        sd_event_source *timer;
        char *in;
        size_t in_len, in_size;
        char *out;
        size_t out_len, out_off;
        Pending *pending, **pending_tail; /* in the order the replies will come */
        Waiter *waiters;
        bool polling;        /* a poll is on its way */
        cJSON *status;       /* the last status reply */
        uint64_t status_time;
        uint64_t demand_until;
        uint64_t sent_at;    /* when we last wrote to the emperor */
        unsigned streams;
        fleet_update_t update;
        void *update_userdata;
        fleet_event_t event_cb;
        void *event_userdata;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The emperor is gone (or talks nonsense): nothing here can work without it. */
static void fleet_lost(Fleet *f, const char *why) {
        log_error("control socket: %s, exiting", why);
        (void) sd_event_exit(f->event, EXIT_FAILURE);
        f->io = sd_event_source_disable_unref(f->io);
}

/* Writes what is queued; the rest waits for EPOLLOUT. */
static int fleet_flush(Fleet *f) {
        while (f->out_off < f->out_len) {
                ssize_t k = send(f->fd, f->out + f->out_off, f->out_len - f->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        int r = -errno;
                        fleet_lost(f, "write failed");
                        return r;
                }
                f->out_off += k;
        }
        if (f->out_off == f->out_len)
                f->out_off = f->out_len = 0;
        if (f->io)
                (void) sd_event_source_set_io_events(f->io, f->out_len > 0 ? EPOLLIN | EPOLLOUT
                                                                           : EPOLLIN);
        return 0;
}

static int fleet_send(Fleet *f, const char *line) {
        size_t n = strlen(line);
        char *o = realloc(f->out, f->out_len + n + 1);
        if (!o)
                return -ENOMEM;
        memcpy(o + f->out_len, line, n);
        o[f->out_len + n] = '\n';
        f->out = o;
        f->out_len += n + 1;
        f->sent_at = now_usec();
        return fleet_flush(f);
}

static int fleet_push(Fleet *f, const char *line, bool poll, fleet_reply_t cb, void *userdata) {
        Pending *p = calloc(1, sizeof(Pending));
        if (!p)
                return -ENOMEM;
        int r = fleet_send(f, line);
        if (r < 0) {
                free(p);
                return r;
        }
        *p = (Pending) { .poll = poll, .cb = cb, .userdata = userdata };
        *f->pending_tail = p;
        f->pending_tail = &p->next;
        return 0;
}

static void fleet_poll(Fleet *f) {
        if (f->polling || !f->io)
                return;
        if (fleet_push(f, "{\"v\":1,\"cmd\":\"status\",\"detail\":true}", true, NULL, NULL) == 0)
                f->polling = true;
}

static void fleet_polled(Fleet *f, cJSON *reply) {
        f->polling = false;
        if (reply && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok")) &&
            cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(reply, "vassals"))) {
                cJSON_Delete(f->status);
                f->status = reply;
                f->status_time = now_usec();
                if (f->update)
                        f->update(f, f->update_userdata);
        } else {
                log_warning("control socket: status refused: %s",
                            reply ? strempty(cJSON_GetStringValue(
                                            cJSON_GetObjectItemCaseSensitive(reply, "error")))
                                  : "out of memory");
                cJSON_Delete(reply);
        }
        /* The waiters' callbacks may add new waiters: take the list first. */
        Waiter *w = f->waiters;
        f->waiters = NULL;
        while (w) {
                Waiter *next = w->next;
                if (w->cb)
                        w->cb(NULL, w->userdata);
                free(w);
                w = next;
        }
}

static void fleet_reply(Fleet *f, const char *line) {
        /* A log tail's lines come between the replies: they start so (cJSON prints keys in
         * the order they were added), and nothing else does. */
        if (strncmp(line, "{\"event\":", 9) == 0) {
                _cleanup_(cJSON_Deletep) cJSON *event = cJSON_Parse(line);
                if (event && f->event_cb)
                        f->event_cb(event, f->event_userdata);
                return;
        }
        Pending *p = f->pending;
        if (!p) {
                fleet_lost(f, "a reply nobody asked for");
                return;
        }
        f->pending = p->next;
        if (!f->pending)
                f->pending_tail = &f->pending;
        cJSON *reply = cJSON_Parse(line);
        if (p->poll)
                fleet_polled(f, reply);
        else if (p->cb)
                p->cb(reply, p->userdata);
        else
                cJSON_Delete(reply);
        free(p);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Fleet *f = userdata;
        (void) s;

        if (revents & EPOLLOUT)
                (void) fleet_flush(f);
        if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                return 0;
        if (f->in_size - f->in_len < 65536) {
                size_t want = MAX(f->in_size * 2, f->in_len + 65536);
                if (want > FLEET_MAX_REPLY) {
                        fleet_lost(f, "reply too large");
                        return 0;
                }
                char *in = realloc(f->in, want);
                if (!in) {
                        fleet_lost(f, "out of memory");
                        return 0;
                }
                f->in = in;
                f->in_size = want;
        }
        ssize_t n = recv(fd, f->in + f->in_len, f->in_size - f->in_len - 1, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                fleet_lost(f, "the emperor closed it");
                return 0;
        }
        if (n < 0)
                return 0;
        size_t scan = f->in_len;
        f->in_len += n;
        for (;;) {
                char *nl = memchr(f->in + scan, '\n', f->in_len - scan);
                if (!nl)
                        break;
                *nl = 0;
                fleet_reply(f, f->in);
                size_t used = nl + 1 - f->in;
                memmove(f->in, nl + 1, f->in_len - used);
                f->in_len -= used;
                scan = 0;
                if (!f->io)
                        return 0;
        }
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Fleet *f = userdata;

        if (f->streams > 0 || now_usec() < f->demand_until)
                fleet_poll(f);
        else if (f->io && now_usec() - f->sent_at >= FLEET_KEEPALIVE_USEC)
                /* Nobody watches: a short status (its reply dropped) keeps the emperor from
                 * closing the connection as idle, which would end this process. */
                (void) fleet_push(f, "{\"v\":1,\"cmd\":\"status\"}", false, NULL, NULL);
        (void) sd_event_source_set_time(s, usec + FLEET_POLL_USEC);
        return 0;
}

int fleet_new(sd_event *e, int fd, Fleet **ret) {
        Fleet *f = calloc(1, sizeof(Fleet));
        int r;

        if (!f) {
                safe_close(fd);
                return -ENOMEM;
        }
        f->event = sd_event_ref(e);
        f->fd = fd;
        f->pending_tail = &f->pending;
        r = sd_event_add_io(e, &f->io, fd, EPOLLIN, on_io, f);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &f->timer, CLOCK_MONOTONIC, FLEET_POLL_USEC,
                                               10 * 1000, on_timer, f);
        if (r >= 0)
                r = sd_event_source_set_enabled(f->timer, SD_EVENT_ON);
        if (r < 0) {
                fleet_free(f);
                return r;
        }
        *ret = f;
        return 0;
}

Fleet *fleet_free(Fleet *f) {
        if (!f)
                return NULL;
        sd_event_source_disable_unref(f->io);
        sd_event_source_disable_unref(f->timer);
        while (f->pending) {
                Pending *p = f->pending;
                f->pending = p->next;
                free(p);
        }
        while (f->waiters) {
                Waiter *w = f->waiters;
                f->waiters = w->next;
                free(w);
        }
        safe_close(f->fd);
        cJSON_Delete(f->status);
        free(f->in);
        free(f->out);
        sd_event_unref(f->event);
        free(f);
        return NULL;
}

void fleet_set_update(Fleet *f, fleet_update_t cb, void *userdata) {
        f->update = cb;
        f->update_userdata = userdata;
}

void fleet_set_event(Fleet *f, fleet_event_t cb, void *userdata) {
        f->event_cb = cb;
        f->event_userdata = userdata;
}

const cJSON *fleet_vassals(const Fleet *f) {
        return f->status ? cJSON_GetObjectItemCaseSensitive(f->status, "vassals") : NULL;
}

const cJSON *fleet_find(const Fleet *f, const char *name) {
        const cJSON *list = fleet_vassals(f);
        if (!list)
                return NULL;
        for (const cJSON *v = list->child; v; v = v->next)
                if (streq_ptr(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name")),
                              name))
                        return v;
        return NULL;
}

uint64_t fleet_time(const Fleet *f) {
        return f->status_time;
}

bool fleet_fresh(const Fleet *f) {
        return f->status && now_usec() - f->status_time < FLEET_FRESH_USEC;
}

void fleet_demand(Fleet *f) {
        f->demand_until = now_usec() + FLEET_IDLE_USEC;
}

void fleet_set_streams(Fleet *f, unsigned n) {
        f->streams = n;
}

int fleet_wait(Fleet *f, fleet_reply_t cb, void *userdata) {
        Waiter *w = calloc(1, sizeof(Waiter));
        if (!w)
                return -ENOMEM;
        *w = (Waiter) { .next = f->waiters, .cb = cb, .userdata = userdata };
        f->waiters = w;
        fleet_demand(f);
        fleet_poll(f);
        return 0;
}

int fleet_call(Fleet *f, const char *cmd, const char *vassal, fleet_reply_t cb, void *userdata) {
        _cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject();
        if (!req || !cJSON_AddNumberToObject(req, "v", PROTO_VERSION) ||
            !cJSON_AddStringToObject(req, "cmd", cmd) ||
            (vassal && !cJSON_AddStringToObject(req, "vassal", vassal)))
                return -ENOMEM;
        _cleanup_free_ char *line = cJSON_PrintUnformatted(req);
        if (!line)
                return -ENOMEM;
        if (!f->io)
                return -ENOTCONN;
        return fleet_push(f, line, false, cb, userdata);
}

int fleet_call_json(Fleet *f, cJSON *req, fleet_reply_t cb, void *userdata) {
        if (!cJSON_AddNumberToObject(req, "v", PROTO_VERSION))
                return -ENOMEM;
        _cleanup_free_ char *line = cJSON_PrintUnformatted(req);
        if (!line)
                return -ENOMEM;
        if (!f->io)
                return -ENOTCONN;
        return fleet_push(f, line, false, cb, userdata);
}

void fleet_cancel(Fleet *f, void *userdata) {
        for (Pending *p = f->pending; p; p = p->next)
                if (!p->poll && p->userdata == userdata)
                        p->cb = NULL;
        for (Waiter *w = f->waiters; w; w = w->next)
                if (w->userdata == userdata)
                        w->cb = NULL;
}
