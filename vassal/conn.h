/* SPDX-License-Identifier: MIT */
#pragma once

/* What both engines (worker.c's threads, gevent.c's greenlets) do with a connection's bytes:
 * the peer's address as text, the request head parsed into a Request with the vassal's limits,
 * and the request log line. One copy, so the engines cannot drift apart. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "http.h"
#include "logformat.h"
#include "request.h"
#include "scoreboard.h"
#include "uwsgi.h"

/* What parsing a head needs: the parser's state, and room for the variables it builds. */
typedef struct ConnParser {
        union {
                HttpRequest http;
                UwsgiPacket uwsgi;
        };
        char *scratch;
        size_t scratch_size;
} ConnParser;

/* How long a stopping worker waits for the next request on a keep-alive connection that was
 * busy just before (a client under load sends it within a millisecond). */
#define CONN_STOP_IDLE_MS 1000

/* CLOCK_MONOTONIC in ms and in µs. */
int64_t conn_now_ms(void);
int64_t conn_now_us(void);

/* Where a connection waiting for bytes stands, in ms of CLOCK_MONOTONIC. */
typedef struct ConnClock {
        int64_t last_active; /* its last byte received, or its last response */
        int64_t head_since;  /* the first byte of the head being read */
        int64_t body_since;  /* a body read before the app (post-buffering): its start; 0: none */
        uint64_t body_got;   /* ... and its bytes so far */
        bool partial;        /* part of a request is in: a head, or a head and its body */
} ConnClock;

/* How much longer, in ms, a connection waiting for bytes may wait; <= 0: it is late, and is
 * cut off (with a 408 when partial). Both engines ask this, the threads' sweep once a second
 * and a greenlet for its wait's timeout, so a slow client gets the same deadlines from both:
 * an idle keep-alive connection keepalive-timeout (CONN_STOP_IDLE_MS while stopping); a
 * partial request socket-timeout since its last byte, and a head header-timeout as a whole,
 * however steadily its bytes trickle in; a body read before the app body-timeout plus a second
 * per body-min-rate bytes, as request.c gives a body the app reads. */
int64_t conn_wait_left(const VassalConfig *cfg, const ConnClock *c, bool stopping, int64_t now);

/* The request log's time texts, formatted once a second (per thread). */
typedef LogClock ConnLogDate;

/* "1.2.3.4" and "80" (empty for a unix socket). */
void conn_format_addr(const struct sockaddr_storage *sa, char *addr, size_t addr_size, char *port,
                      size_t port_size);

/* Starts r on the bytes at in's start (request_reset() with limit-post), and parses its
 * head; a parsed request gets the slow-body deadlines (body-timeout, body-min-rate). Returns 1
 * with the head consumed, 0 when more bytes are needed, -1 when the request was refused with
 * an error response (the connection is done). */
int conn_parse_head(Request *r, int fd, SocketProto proto, ConnBuffer *in, const ConnInfo *info,
                    const VassalConfig *cfg, int timeout_ms, ConnParser *p);

/* The method and URI copied out of the connection buffer, which a pipelined request may reuse
 * while the body is read: the log still names them. */
void conn_keep_names(Request *r, char *method, size_t method_size, char *uri, size_t uri_size);

/* Who logs: what the request line says of the worker and thread besides the request. */
typedef struct ConnLogCtx {
        const VassalConfig *cfg;
        Scoreboard *scoreboard; /* for the every-worker request count */
        int statm_fd;           /* the worker's /proc/self/statm for memory-report, or -1 */
        pid_t pid;
        int worker_id;
        int core; /* the thread's (or greenlet slot's) index */
} ConnLogCtx;

/* One line per request in the logformat (uWSGI's default line unless set), written with one
 * write() so lines from every worker and thread stay whole in the master's log pipe. Which
 * requests: all, or with disable-logging only those log-4xx, log-5xx, log-slow, log-zero and
 * log-big ask for. nreq: this worker's requests, this one included; us: its duration. */
void conn_log_request(const ConnLogCtx *ctx, uint64_t nreq, const Request *r, int64_t us,
                      ConnLogDate *date);

/* One parsed request through the app, as both engines serve it: the worker's and the core's
 * scoreboard entries begun and ended, the method and URI kept for them (conn_keep_names), the
 * body read first with post-buffering (a 4xx when it cannot be), the WSGI call, the rest of the
 * body drained for keep-alive. Returns the µs it took. */
typedef struct WsgiThread WsgiThread;
int64_t conn_serve_request(const VassalConfig *cfg, ScoreboardSlot *slot, ScoreboardCore *core,
                           WsgiThread *wt, Request *r, char *method, size_t method_size,
                           char *uri, size_t uri_size, bool *ret_raised);

/* After request number n of a worker (raised: its app raised): whether the worker should now
 * stop and be replaced, for max-requests or reload-on-exception; then its reason is in the
 * slot (for the master) and in why. */
bool conn_recycle_due(const VassalConfig *cfg, ScoreboardSlot *slot, uint64_t n, uint64_t max,
                      bool raised, char *why, size_t why_size);
