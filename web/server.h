/* SPDX-License-Identifier: MIT */
#pragma once

/* emperor-web's HTTP side. One request per connection (Connection: close), except the event
 * stream, which stays open:
 *   GET  /                        the dashboard (assets.h), GET /assets/NAME its files
 *   GET  /metrics                 Prometheus text format (metrics.h)
 *   GET  /api/session             {"csrf": TOKEN, "user": NAME|null}
 *   GET  /api/vassals[/NAME]      the fleet, one vassal in detail (fleet.h's snapshot)
 *   GET  /api/vassals/NAME/history|events, /api/events   the store (webapi.h)
 *   GET  /api/vassals/NAME/ini    the vassal's ini, as text, when emperor-web may read it
 *   GET  /api/stream              Server-Sent Events: "fleet" with the fleet each second
 *   POST /api/vassals/NAME/ACTION reload, chain-reload, restart, stop, start: sent to the
 *                                 emperor's control socket; needs the X-CSRF-Token header
 *                                 and a same-origin Origin
 *   POST /login, /logout          with --http-auth (auth.h)
 *
 * Nothing a client does can stall the process: every connection has a deadline for its
 * request (10 s) and for progress on its answer (30 s); at most SERVER_MAX_PER_ADDR
 * connections per peer address and SERVER_MAX_CLIENTS in all, SERVER_LOOPBACK_SLOTS of them
 * kept for loopback peers. At a cap the oldest connection that has not sent its request yet
 * makes room (server.c admit()), so idle connections cannot lock out a local Prometheus. */

#include <stdbool.h>
#include <systemd/sd-event.h>
#include <sys/types.h>

#include "fleet.h"

#define SERVER_MAX_CLIENTS 256
#define SERVER_MAX_PER_ADDR 32
#define SERVER_LOOPBACK_SLOTS 16

typedef struct Server Server;
typedef struct WebApi WebApi;
typedef struct Auth Auth;

typedef struct ServerOptions {
        int fd;            /* the listener, ours to close */
        Fleet *fleet;
        WebApi *api;       /* may be NULL: the store cannot be read */
        Auth *auth;        /* NULL: no login */
        pid_t emperor_pid; /* for /metrics' emperor_* samples */
        bool insecure;     /* --insecure: any Host (else, without auth, an address or localhost) */
        bool tyrant;       /* the emperor's --tyrant: without a login, a caller sees what the
                            * control socket would show its uid (the peer's, on loopback) */
} ServerOptions;

int server_new(sd_event *e, const ServerOptions *o, Server **ret);
Server *server_free(Server *s);
