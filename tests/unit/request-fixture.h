/* SPDX-License-Identifier: MIT */
#pragma once

/* What test-request.c and test-response.c share: one connection (a socketpair: the worker's
 * end, non-blocking, and the client's, which the test plays), a request on it, and helpers to
 * feed heads and bodies and to check what the client received. Include after cmocka.h. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http.h"
#include "macro.h"
#include "request.h"
#include "response.h"
#include "uwsgi.h"

/* The connection buffer, as big as the worker's default buffer-size. */
#define IN_SIZE 8192

/* One connection: the worker's end of a socketpair and the client's, which the test plays. */
typedef struct Fixture {
        int server; /* O_NONBLOCK, as the worker's accepted sockets */
        int client; /* -1 once the test closed it */
        ConnBuffer in;
        Request r;
        HttpRequest http;
        UwsgiPacket uwsgi;
        ConnInfo ci;
        char scratch[2 * IN_SIZE + 1024];
} Fixture;

_unused_ static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        int sv[2];

        assert_non_null(f);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        f->server = sv[0];
        f->client = sv[1];
        assert_int_equal(fcntl(f->server, F_SETFL, fcntl(f->server, F_GETFL) | O_NONBLOCK), 0);
        f->in.data = malloc(IN_SIZE);
        assert_non_null(f->in.data);
        f->in.size = IN_SIZE;
        f->ci = (ConnInfo) {
                .remote_addr = "192.0.2.7",
                .remote_port = "40000",
                .server_addr = "198.51.100.1",
                .server_port = "8080",
        };
        request_reset(&f->r, f->server, SOCKET_HTTP, &f->in, 1000);
        *state = f;
        return 0;
}

_unused_ static int teardown(void **state) {
        Fixture *f = *state;

        request_done(&f->r);
        free(f->r.headers);
        free(f->r.out);
        safe_close(f->server);
        safe_close(f->client);
        free(f->in.data);
        free(f);
        return 0;
}

/* Starts the next request on the same connection, as the worker does. */
_unused_ static void restart(Fixture *f, SocketProto proto, int timeout_ms) {
        request_done(&f->r);
        request_reset(&f->r, f->server, proto, &f->in, timeout_ms);
}

_unused_ static void client_send_n(Fixture *f, const void *p, size_t n) {
        const char *s = p;

        while (n > 0) {
                ssize_t k = write(f->client, s, n);
                assert_true(k > 0);
                s += k;
                n -= k;
        }
}

_unused_ static void client_send(Fixture *f, const char *s) {
        client_send_n(f, s, strlen(s));
}

/* Everything the server sent so far (the writes are synchronous, so it has all arrived),
 * NUL-terminated. */
_unused_ static size_t client_recv(Fixture *f, char *buf, size_t size) {
        size_t n = 0;

        for (;;) {
                assert_true(n < size - 1);
                ssize_t k = recv(f->client, buf + n, size - 1 - n, MSG_DONTWAIT);
                if (k <= 0) {
                        assert_true(k == 0 || errno == EAGAIN);
                        break;
                }
                n += k;
        }
        buf[n] = 0;
        return n;
}

/* Asserts the client received exactly `expected` since the last check. */
_unused_ static void assert_client_received(Fixture *f, const char *expected) {
        static char buf[1 << 16];
        size_t n = client_recv(f, buf, sizeof(buf));

        assert_string_equal(buf, expected);
        assert_int_equal(n, strlen(expected));
}

/* What is still unread on the server's end of the socket. */
_unused_ static void assert_socket_holds(Fixture *f, const char *expected) {
        char buf[1024];
        ssize_t k = recv(f->server, buf, sizeof(buf) - 1, 0);

        if (k < 0) {
                assert_int_equal(errno, EAGAIN);
                k = 0;
        }
        buf[k] = 0;
        assert_string_equal(buf, expected);
}

/* The connection buffer's unconsumed bytes. */
_unused_ static void assert_buffer_holds(Fixture *f, const char *expected) {
        assert_true(f->in.start <= f->in.end);
        assert_int_equal(f->in.end - f->in.start, strlen(expected));
        assert_memory_equal(f->in.data + f->in.start, expected, strlen(expected));
}

/* Puts bytes (a head and whatever the client sent after it) in the connection buffer, parses
 * the head like the worker and returns request_from_http()'s result. */
_unused_ static int feed_http_n(Fixture *f, const char *bytes, size_t len) {
        assert_true(len <= f->in.size);
        memcpy(f->in.data, bytes, len);
        f->in.start = 0;
        f->in.end = len;
        int k = http_request_parse(f->in.data, len, &f->http);
        assert_true(k > 0);
        f->in.start = k;
        return request_from_http(&f->r, &f->http, &f->ci, f->scratch, sizeof(f->scratch));
}

_unused_ static int feed_http(Fixture *f, const char *bytes) {
        return feed_http_n(f, bytes, strlen(bytes));
}

/* Builds a uwsgi packet from key, value, ..., NULL, followed by body, in the connection
 * buffer, and returns request_from_uwsgi()'s result. */
_unused_ static int feed_uwsgi(Fixture *f, const char *body, ...) {
        char *p = f->in.data;
        size_t n = UWSGI_HEADER_SIZE;
        va_list ap;

        va_start(ap, body);
        for (const char *key; (key = va_arg(ap, const char *));) {
                const char *value = va_arg(ap, const char *);
                int k = uwsgi_var_encode(p + n, f->in.size - n, key, value);
                assert_true(k > 0);
                n += k;
        }
        va_end(ap);
        p[0] = 0;
        p[1] = (char) ((n - UWSGI_HEADER_SIZE) & 0xff);
        p[2] = (char) ((n - UWSGI_HEADER_SIZE) >> 8);
        p[3] = 0;
        assert_true(n + strlen(body) <= f->in.size);
        memcpy(p + n, body, strlen(body));
        f->in.start = 0;
        f->in.end = n + strlen(body);
        int k = uwsgi_packet_parse(f->in.data, f->in.end, &f->uwsgi);
        assert_int_equal(k, (int) n);
        f->in.start = k;
        return request_from_uwsgi(&f->r, &f->uwsgi, &f->ci);
}

/* Asserts the CGI variable key is value (NULL: absent). */
_unused_ static void assert_var(const Request *r, const char *key, const char *value) {
        size_t len = 12345;
        const char *v = request_get_var(r, key, &len);

        if (!value) {
                if (v)
                        fail_msg("%s should be absent, is '%.*s'", key, (int) len, v);
                return;
        }
        if (!v)
                fail_msg("%s is missing", key);
        if (len != strlen(value) || memcmp(v, value, len) != 0)
                fail_msg("%s is '%.*s', expected '%s'", key, (int) len, v, value);
}

/* Reads the whole body `step` bytes at a time into buf; returns the total or the error. */
_unused_ static ssize_t read_body_all(Request *r, char *buf, size_t size, size_t step) {
        size_t n = 0;

        for (;;) {
                size_t want = MIN(step, size - n);
                assert_true(want > 0); /* more body than the test expected */
                ssize_t k = request_read_body(r, buf + n, want);
                if (k < 0)
                        return k;
                if (k == 0)
                        return (ssize_t) n;
                assert_true((size_t) k <= want);
                n += k;
        }
}

_unused_ static int write_str(Request *r, const char *s) {
        struct iovec iov = { (void *) s, strlen(s) };
        return response_write(r, &iov, 1);
}

_unused_ static int add_header(Request *r, const char *name, const char *value) {
        return response_add_header(r, name, strlen(name), value, strlen(value));
}

_unused_ static int start(Request *r, const char *status) {
        return response_start(r, status, strlen(status));
}

/* An unlinked temp file holding s, at offset 0. */
_unused_ static int temp_file_with(const char *s) {
        char path[] = "/tmp/test-request-XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(write(fd, s, strlen(s)), (ssize_t) strlen(s));
        return fd;
}
