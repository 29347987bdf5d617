/* SPDX-License-Identifier: MIT */
#pragma once

/* The emperor's side of the dashboard (--http ADDR, default 127.0.0.1:9090; "none" turns it
 * off): it binds ADDR itself (root may bind any port) and runs emperor-web (web/) with the
 * listener as LISTEN_FDS, as root only until emperor-web has opened the control socket, the
 * store and the --http-auth file; then that process becomes --http-user (default "emperor"
 * when that user exists, which debian/ and `make install` create, else "nobody").
 * emperor-web talks to the emperor only through the control socket, so nothing it does can
 * stall supervision.
 *
 * When it dies it is started again 100 ms later; when it dies again before it ran
 * WEBPROC_STABLE_USEC, after a backoff doubling from 1 s to 30 s. Exit 78 (EX_CONFIG:
 * it refused its options) is not retried. Meanwhile the listener stays bound here, so
 * browsers wait in its backlog instead of being refused. */

#include <stdbool.h>
#include <sys/types.h>

#include "manager.h"

#define WEBPROC_STABLE_USEC (10 * 1000000ULL)

typedef struct WebProc WebProc;

typedef struct WebProcOptions {
        const char *address; /* NULL, "" or "none": no dashboard */
        const char *program; /* emperor-web */
        const char *user;    /* NULL: "emperor", else "nobody" (as root; else ours) */
        const char *auth;    /* --http-auth FILE, or NULL */
        bool insecure;       /* a non-loopback address without auth */
        bool verbose;
} WebProcOptions;

/* Binds and starts. A listener that cannot bind is logged and skipped (*ret NULL, returns 0):
 * the fleet runs without its dashboard rather than not at all. -EPERM (logged): a
 * non-loopback address without auth or insecure. */
int webproc_new(Manager *m, const WebProcOptions *o, WebProc **ret);
WebProc *webproc_free(WebProc *w);
static inline void webproc_freep(WebProc **w) {
        webproc_free(*w);
}
/* The running emperor-web's pid, 0 when none runs. */
pid_t webproc_pid(const WebProc *w);
