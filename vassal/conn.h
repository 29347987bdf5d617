/* SPDX-License-Identifier: MIT */
#pragma once

/* What both engines (worker.c's threads, gevent.c's greenlets) do with a connection's bytes:
 * the peer's address as text, the request head parsed into a Request with the vassal's limits,
 * and the request log line. One copy, so the engines cannot drift apart. */

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "http.h"
#include "request.h"
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

/* The request log's date, formatted once a second. */
typedef struct ConnLogDate {
        char text[64];
        time_t sec;
} ConnLogDate;

/* "1.2.3.4" and "80" (empty for a unix socket). */
void conn_format_addr(const struct sockaddr_storage *sa, char *addr, size_t addr_size, char *port,
                      size_t port_size);

/* Starts r on the bytes at in's start (request_reset() with limit-post), and parses its
 * head. Returns 1 with the head consumed, 0 when more bytes are needed, -1 when the request
 * was refused with an error response (the connection is done). */
int conn_parse_head(Request *r, int fd, SocketProto proto, ConnBuffer *in, const ConnInfo *info,
                    const VassalConfig *cfg, int timeout_ms, ConnParser *p);

/* The method and URI copied out of the connection buffer, which a pipelined request may reuse
 * while the body is read: the log still names them. */
void conn_keep_names(Request *r, char *method, size_t method_size, char *uri, size_t uri_size);

/* One line per request, in uWSGI's spirit, written with one write() so lines from every worker
 * and thread stay whole in the master's log pipe; nothing with disable-logging. statm_fd: the
 * worker's /proc/self/statm for memory-report, or -1. */
void conn_log_request(const VassalConfig *cfg, int statm_fd, pid_t pid, int worker_id,
                      uint64_t nreq, const ConnInfo *info, const Request *r, int64_t us,
                      ConnLogDate *date);
