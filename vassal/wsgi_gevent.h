/* SPDX-License-Identifier: MIT */
#pragma once

/* The Python half of the gevent engine (gevent.c is the C half): it runs gevent's hub on the
 * worker's main thread, watches the listeners and a wake-up fd there, starts one greenlet per
 * accepted connection, and lets the C request path wait by yielding to the hub. Like wsgi.c,
 * it is one of the two files that talk to CPython. */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* What the engine does for the hub. Every call runs on the hub's thread; serve() is called with
 * the GIL released (it runs the C request path, which takes it around the app), the others
 * with it held (they only touch C state). */
typedef struct WsgiGeventOps {
        void *userdata;
        const int *listener_fds;
        size_t n_listeners;
        int wake_fd; /* readable: call wake() */
        /* A connection from listener i: its handle (>= 0), or -1 when there is none (EAGAIN) or
         * no room for one. */
        int (*accept)(void *userdata, size_t i);
        /* Serves the connection until it closes; the greenlet ends after it. */
        void (*serve)(void *userdata, int handle);
        /* The wake fd was readable, or a tick passed (every tick_ms). */
        void (*wake)(void *userdata);
        /* Whether the listeners should be watched (not stopping, not full, not paused). */
        bool (*accepting)(void *userdata);
        /* Stopping and no connection left: the hub may end. */
        bool (*done)(void *userdata);
        /* The hub watches the listeners: the worker accepts. */
        void (*ready)(void *userdata);
        int tick_ms;
} WsgiGeventOps;

/* Runs the hub until ops->done(), on the calling thread (the worker's main), which holds the
 * GIL (the worker has not released it). gevent-monkey-patch patches first. Sets the request
 * wait hook (request_set_wait). Returns 0, or -errno when gevent could not start (logged). */
int wsgi_gevent_run(const VassalConfig *c, const WsgiGeventOps *ops);

/* The wait of the request path in a greenlet (request.h's RequestWaitFunc): yields to the hub
 * until fd is ready or timeout_ms passed. Without the GIL; it takes it for the while. */
int wsgi_gevent_wait(int fd, short events, int timeout_ms);

/* Which connection the greenlet running now serves (the handle accept() gave), or -1 (none
 * runs, or it cannot be told): what SIGUSR2's report names as the one holding the hub. From
 * any thread but the hub's; takes the GIL for the while. */
int wsgi_gevent_running_handle(void);
