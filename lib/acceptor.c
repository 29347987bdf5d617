/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "macro.h"

/* Connections taken per wake-up at most, so a flood cannot hold the loop. */
#define ACCEPT_BATCH 64
#define PAUSE_USEC_DEFAULT 100000

struct Acceptor {
        sd_event *event;
        int fd;
        sd_event_source *io;
        /* Made with the acceptor, enabled while pausing: when the descriptor table is full is
         * no time to need a new timerfd. */
        sd_event_source *retry;
        bool paused;
        unsigned max_clients, n_clients;
        uint64_t pause_usec;
        acceptor_handler_t handler;
        void *userdata;
};

/* Listening when neither pausing nor full. */
static void acceptor_arm(Acceptor *a) {
        bool on = !a->paused && (a->max_clients == 0 || a->n_clients < a->max_clients);
        (void) sd_event_source_set_enabled(a->io, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Acceptor *a = userdata;
        (void) s;
        (void) usec;
        a->paused = false;
        acceptor_arm(a);
        return 0;
}

static void acceptor_pause(Acceptor *a) {
        /* Without a timer (it cannot be set) keep listening: never go deaf. */
        a->paused = sd_event_source_set_time_relative(a->retry, a->pause_usec) >= 0 &&
                    sd_event_source_set_enabled(a->retry, SD_EVENT_ONESHOT) >= 0;
        acceptor_arm(a);
}

static int on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Acceptor *a = userdata;
        (void) s;
        (void) revents;

        for (unsigned k = 0; k < ACCEPT_BATCH; k++) {
                if (a->max_clients && a->n_clients >= a->max_clients)
                        break;
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                            errno == ENOMEM) {
                                acceptor_pause(a);
                                return 0;
                        }
                        break; /* EAGAIN: all taken */
                }
                a->n_clients++;
                if (a->handler(a, cfd, a->userdata) < 0) {
                        a->n_clients--;
                        safe_close(cfd);
                }
        }
        acceptor_arm(a);
        return 0;
}

int acceptor_new(sd_event *e, int fd, const AcceptorOptions *o, acceptor_handler_t handler,
                 void *userdata, Acceptor **ret) {
        Acceptor *a = calloc(1, sizeof(Acceptor));
        int r;

        if (!a)
                return -ENOMEM;
        *a = (Acceptor) {
                .event = e,
                .fd = fd,
                .max_clients = o ? o->max_clients : 0,
                .pause_usec = o && o->pause_usec ? o->pause_usec : PAUSE_USEC_DEFAULT,
                .handler = handler,
                .userdata = userdata,
        };
        r = sd_event_add_io(e, &a->io, fd, EPOLLIN, on_listen, a);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &a->retry, CLOCK_MONOTONIC, a->pause_usec,
                                               a->pause_usec / 10, on_retry, a);
        if (r >= 0)
                r = sd_event_source_set_enabled(a->retry, SD_EVENT_OFF);
        if (r < 0) {
                acceptor_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

Acceptor *acceptor_free(Acceptor *a) {
        if (!a)
                return NULL;
        sd_event_source_disable_unref(a->io);
        sd_event_source_disable_unref(a->retry);
        free(a);
        return NULL;
}

void acceptor_client_gone(Acceptor *a) {
        if (!a || a->n_clients == 0)
                return;
        a->n_clients--;
        acceptor_arm(a);
}

unsigned acceptor_clients(const Acceptor *a) {
        return a ? a->n_clients : 0;
}

bool acceptor_paused(const Acceptor *a) {
        return a && a->paused;
}
