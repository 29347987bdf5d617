/* SPDX-License-Identifier: MIT */
#pragma once

/* One request on a connection, protocol-neutral: the CGI variables the app sees, the body
 * reader behind wsgi.input, and the response writer behind start_response/write/iteration.
 * HTTP/1.1 and the uwsgi protocol fill it differently (conn.c); wsgi.c only uses this API. The
 * response writer is response.c's; both share the socket I/O below.
 *
 * Every function that touches the socket may block up to socket-timeout (poll). The socket is
 * non-blocking and every call tries it first; only when the client is not ready does it wait,
 * and it calls r->on_wait around the wait, so wsgi.c keeps the GIL for what completes at once
 * (a body already received, a response that fits the socket buffer) and lets go of it only
 * to wait. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "http.h"
#include "socket.h"
#include "uwsgi.h"

#define REQUEST_MAX_VARS (HTTP_MAX_HEADERS + 32)

typedef struct RequestVar {
        const char *key;
        size_t key_len;
        const char *value;
        size_t value_len;
} RequestVar;

typedef enum BodyMode {
        BODY_NONE,
        BODY_LENGTH,  /* Content-Length bytes from the connection */
        BODY_CHUNKED, /* chunked from the connection */
        BODY_MEMORY,  /* already buffered (post-buffering) */
        BODY_FILE,    /* spooled to a temp file (post-buffering) */
} BodyMode;

typedef struct Conn Conn;

/* Where a connection's unread bytes live: the request body starts in it, and whatever follows
 * the body (a pipelined request) stays in it. Owned by the connection. */
typedef struct ConnBuffer {
        char *data;
        size_t size;
        size_t start; /* first unconsumed byte */
        size_t end;   /* one past the last byte received */
} ConnBuffer;

typedef struct Request {
        int fd;
        SocketProto proto;
        ConnBuffer *in;
        int timeout_ms;
        bool keep_alive; /* the connection may serve another request afterwards */
        bool http10;     /* HTTP/1.0 client: no chunked responses */
        bool head;       /* HEAD: no body is sent */
        /* Called with true before a wait for the client and with false after it; NULL: none. */
        void (*on_wait)(void *userdata, bool begin);
        void *on_wait_userdata;

        RequestVar vars[REQUEST_MAX_VARS];
        size_t n_vars;
        const char *method;
        size_t method_len;
        const char *uri; /* REQUEST_URI, for the log */
        size_t uri_len;
        const char *url_scheme;

        /* Body */
        BodyMode body_mode;
        uint64_t body_left;   /* BODY_LENGTH: bytes still on the wire; MEMORY/FILE: unread */
        uint64_t body_read;   /* bytes handed to the app so far */
        uint64_t limit_post;  /* 0: none */
        /* Slow bodies: the body may take body_timeout_ms from its first read, plus a second
         * per body_min_rate bytes received, or reading it fails with -ETIMEDOUT (408). */
        int64_t body_timeout_ms; /* 0: only timeout_ms, per wait */
        uint64_t body_min_rate;
        int64_t body_started;    /* ms, CLOCK_MONOTONIC: the first wait for body bytes */
        HttpChunked chunked;
        bool body_done;
        int body_errno; /* why the body could not be read (errno): the connection closes */
        bool expect_continue;
        bool continue_sent;
        char *body_mem;
        size_t body_mem_off;
        int body_fd;

        /* Response */
        int status;
        char status_line[128]; /* "HTTP/1.1 200 OK\r\n" */
        size_t status_line_len;
        char *headers; /* app headers, "Name: value\r\n" each; owned by the thread */
        size_t headers_len, headers_size;
        /* out_defer: what is sent is kept in out (RESPONSE_OUT_SIZE bytes, made on first use,
         * owned by the thread) while it fits, and goes out with response_flush(). */
        bool out_defer;
        char *out;
        size_t out_len;
        int64_t content_length; /* -1 unknown */
        bool started;      /* start_response was called */
        bool head_sent;
        bool chunked_out;
        bool failed;       /* a write failed: the client is gone */
        uint64_t bytes_sent; /* body bytes */
} Request;

/* How a request waits for its socket: poll(2) on the calling thread unless a hook is set. The
 * gevent engine sets one per worker process that yields to its hub instead, so one thread
 * serves many requests. events is POLLIN or POLLOUT; returns 0 when ready, -ETIMEDOUT after
 * timeout_ms (< 0: never), or -errno. Called without the GIL. */
typedef int (*RequestWaitFunc)(int fd, short events, int timeout_ms);
void request_set_wait(RequestWaitFunc fn);

/* Prepares r for a new request on fd. Keeps r->headers' allocation. */
void request_reset(Request *r, int fd, SocketProto proto, ConnBuffer *in, int timeout_ms);
void request_done(Request *r); /* frees what request_reset's users allocated, keeps r reusable */

/* The connection's addresses, formatted once per connection. */
typedef struct ConnInfo {
        char remote_addr[64];
        char remote_port[8];
        char server_addr[64];
        char server_port[8];
} ConnInfo;

/* Fills r from a parsed HTTP head: method, URI, decoded PATH_INFO, QUERY_STRING, HTTP_*,
 * CONTENT_TYPE/LENGTH, SERVER_*, REMOTE_*; body mode from Content-Length/chunked. scratch
 * holds the strings made here (header names as HTTP_X, the decoded path); it must be at least
 * 2 * head length + 1024 bytes. Returns 0, or a negative HTTP status (-413 over limit-post). */
int request_from_http(Request *r, const HttpRequest *h, const ConnInfo *ci, char *scratch,
                      size_t scratch_size);
/* Fills r from a uwsgi packet (nginx's variables as they are). Returns 0 or -400. */
int request_from_uwsgi(Request *r, const UwsgiPacket *p, const ConnInfo *ci);

/* Adds a CGI variable; the strings must outlive the request. Returns -E2BIG when full. */
int request_add_var(Request *r, const char *key, size_t key_len, const char *value,
                    size_t value_len);
const char *request_get_var(const Request *r, const char *key, size_t *ret_len);

/* Reads up to size body bytes: > 0 bytes, 0 at the end of the body, or -errno (-ETIMEDOUT,
 * -ECONNRESET, -EBADMSG for a malformed chunked body, -EFBIG past limit-post). */
ssize_t request_read_body(Request *r, char *buf, size_t size);
/* Reads the whole body now, into memory up to `memory_max` bytes, past that into a temp file,
 * so the app never waits on a slow client (post-buffering). Returns 0 or -errno. */
int request_buffer_body(Request *r, uint64_t memory_max);
/* Gives r a body already read (post-buffering, by the worker while no thread held the
 * connection); r frees it. */
void request_set_body(Request *r, char *body, size_t len);
/* After the response: reads and discards what the app left of the body, so the connection can
 * serve the next request. Returns 0, or -errno when it cannot (the connection must close). */
int request_drain_body(Request *r);
void request_body_free(Request *r);

/* For response.c: waits for the request's socket (POLLIN or POLLOUT), telling r->on_wait before
 * and after; returns 0, -ETIMEDOUT or -errno. */
int request_wait_client(Request *r, short events, int timeout_ms);
/* For response.c: sends every byte of iov (which it consumes), waiting for the client up to the
 * timeout for each bit of progress. Returns 0 or -errno, and marks r failed on an error. */
int request_send_all(Request *r, struct iovec *iov, int n);
