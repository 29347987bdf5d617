/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http.h"
#include "macro.h"
#include "request.h"
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

static int setup(void **state) {
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

static int teardown(void **state) {
        Fixture *f = *state;

        request_done(&f->r);
        free(f->r.headers);
        safe_close(f->server);
        safe_close(f->client);
        free(f->in.data);
        free(f);
        return 0;
}

/* Starts the next request on the same connection, as the worker does. */
static void restart(Fixture *f, SocketProto proto, int timeout_ms) {
        request_done(&f->r);
        request_reset(&f->r, f->server, proto, &f->in, timeout_ms);
}

static void client_send_n(Fixture *f, const void *p, size_t n) {
        const char *s = p;

        while (n > 0) {
                ssize_t k = write(f->client, s, n);
                assert_true(k > 0);
                s += k;
                n -= k;
        }
}

static void client_send(Fixture *f, const char *s) {
        client_send_n(f, s, strlen(s));
}

/* Everything the server sent so far (the writes are synchronous, so it has all arrived),
 * NUL-terminated. */
static size_t client_recv(Fixture *f, char *buf, size_t size) {
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
static void assert_client_received(Fixture *f, const char *expected) {
        static char buf[1 << 16];
        size_t n = client_recv(f, buf, sizeof(buf));

        assert_string_equal(buf, expected);
        assert_int_equal(n, strlen(expected));
}

/* What is still unread on the server's end of the socket. */
static void assert_socket_holds(Fixture *f, const char *expected) {
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
static void assert_buffer_holds(Fixture *f, const char *expected) {
        assert_true(f->in.start <= f->in.end);
        assert_int_equal(f->in.end - f->in.start, strlen(expected));
        assert_memory_equal(f->in.data + f->in.start, expected, strlen(expected));
}

/* Puts bytes (a head and whatever the client sent after it) in the connection buffer, parses
 * the head like the worker and returns request_from_http()'s result. */
static int feed_http_n(Fixture *f, const char *bytes, size_t len) {
        assert_true(len <= f->in.size);
        memcpy(f->in.data, bytes, len);
        f->in.start = 0;
        f->in.end = len;
        int k = http_request_parse(f->in.data, len, &f->http);
        assert_true(k > 0);
        f->in.start = k;
        return request_from_http(&f->r, &f->http, &f->ci, f->scratch, sizeof(f->scratch));
}

static int feed_http(Fixture *f, const char *bytes) {
        return feed_http_n(f, bytes, strlen(bytes));
}

/* Builds a uwsgi packet from key, value, ..., NULL, followed by body, in the connection
 * buffer, and returns request_from_uwsgi()'s result. */
static int feed_uwsgi(Fixture *f, const char *body, ...) {
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
static void assert_var(const Request *r, const char *key, const char *value) {
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
static ssize_t read_body_all(Request *r, char *buf, size_t size, size_t step) {
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

static int write_str(Request *r, const char *s) {
        struct iovec iov = { (void *) s, strlen(s) };
        return response_write(r, &iov, 1);
}

static int add_header(Request *r, const char *name, const char *value) {
        return response_add_header(r, name, strlen(name), value, strlen(value));
}

static int start(Request *r, const char *status) {
        return response_start(r, status, strlen(status));
}

/* An unlinked temp file holding s, at offset 0. */
static int temp_file_with(const char *s) {
        char path[] = "/tmp/test-request-XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(write(fd, s, strlen(s)), (ssize_t) strlen(s));
        return fd;
}

/* ---- request_from_http ---- */

static void test_http_head_becomes_cgi_variables(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET /a%20b/c%2Fd?x=1&y=%20 HTTP/1.1\r\n"
                                      "Host: example.com:8080\r\n"
                                      "X-Foo: bar\r\n"
                                      "user-agent: test/1.0\r\n"
                                      "Accept-Encoding: gzip\r\n"
                                      "\r\n"),
                         0);
        assert_var(r, "REQUEST_METHOD", "GET");
        assert_var(r, "REQUEST_URI", "/a%20b/c%2Fd?x=1&y=%20");
        assert_var(r, "PATH_INFO", "/a b/c/d");
        assert_var(r, "QUERY_STRING", "x=1&y=%20");
        assert_var(r, "SCRIPT_NAME", "");
        assert_var(r, "SERVER_PROTOCOL", "HTTP/1.1");
        assert_var(r, "HTTP_HOST", "example.com:8080");
        assert_var(r, "HTTP_X_FOO", "bar");
        assert_var(r, "HTTP_USER_AGENT", "test/1.0");
        assert_var(r, "HTTP_ACCEPT_ENCODING", "gzip");
        assert_var(r, "SERVER_NAME", "example.com");
        assert_var(r, "SERVER_PORT", "8080");
        assert_var(r, "REMOTE_ADDR", "192.0.2.7");
        assert_var(r, "REMOTE_PORT", "40000");
        assert_var(r, "CONTENT_TYPE", "");
        assert_var(r, "CONTENT_LENGTH", "");
        assert_memory_equal(r->method, "GET", 3);
        assert_int_equal(r->method_len, 3);
        assert_int_equal(r->uri_len, strlen("/a%20b/c%2Fd?x=1&y=%20"));
        assert_string_equal(r->url_scheme, "http");
        assert_int_equal(r->body_mode, BODY_NONE);
        assert_true(r->body_done);
}

static void test_query_string_is_empty_without_question_mark(void **state) {
        Fixture *f = *state;

        assert_int_equal(feed_http(f, "GET /plain HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_var(&f->r, "PATH_INFO", "/plain");
        assert_var(&f->r, "QUERY_STRING", "");
}

static void test_absolute_form_target_is_cut_to_its_path(void **state) {
        Fixture *f = *state;

        assert_int_equal(feed_http(f, "GET http://example.com/p%41th?q=1 HTTP/1.1\r\n"
                                      "Host: example.com\r\n\r\n"),
                         0);
        assert_var(&f->r, "PATH_INFO", "/pAth");
        assert_var(&f->r, "QUERY_STRING", "q=1");
        assert_var(&f->r, "REQUEST_URI", "http://example.com/p%41th?q=1");
}

static void test_content_headers_have_no_http_prefix(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "POST /form HTTP/1.1\r\n"
                                      "Host: h\r\n"
                                      "Content-Type: application/x-www-form-urlencoded\r\n"
                                      "Content-Length: 3\r\n"
                                      "\r\n"
                                      "a=b"),
                         0);
        assert_var(r, "CONTENT_TYPE", "application/x-www-form-urlencoded");
        assert_var(r, "CONTENT_LENGTH", "3");
        assert_var(r, "HTTP_CONTENT_TYPE", NULL);
        assert_var(r, "HTTP_CONTENT_LENGTH", NULL);
        assert_var(r, "REQUEST_METHOD", "POST");
        assert_int_equal(r->body_mode, BODY_LENGTH);
        assert_int_equal(r->body_left, 3);
        assert_false(r->body_done);
}

static void test_headers_with_underscore_are_dropped(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\n"
                                      "Host: h\r\n"
                                      "X-Forwarded-For: 10.0.0.1\r\n"
                                      "X_Forwarded_For: 6.6.6.6\r\n"
                                      "Content_Length: 99\r\n"
                                      "\r\n"),
                         0);
        assert_var(r, "HTTP_X_FORWARDED_FOR", "10.0.0.1");
        assert_var(r, "HTTP_CONTENT_LENGTH", NULL);
        assert_var(r, "CONTENT_LENGTH", "");
        size_t n = 0;
        for (size_t i = 0; i < r->n_vars; i++)
                if (r->vars[i].key_len == 20 &&
                    memcmp(r->vars[i].key, "HTTP_X_FORWARDED_FOR", 20) == 0)
                        n++;
        assert_int_equal(n, 1);
}

static void test_repeated_header_lines_become_one_variable(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        /* Regression (was a bug): request_from_http() adds one HTTP_* variable per header line, so a repeated
         * header ("Accept: a" and "Accept: b", or the "Cookie" lines an HTTP/2 proxy splits)
         * gives two HTTP_ACCEPT entries, and build_environ() in wsgi.c keeps only the last.
         * RFC 3875 4.1.18 wants them rewritten as one variable, joined with ", " (RFC 9110
         * 5.3). */
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html\r\n"
                                      "X-Other: 1\r\naccept: application/json\r\n\r\n"),
                         0);
        assert_var(r, "HTTP_ACCEPT", "text/html, application/json");
        size_t n = 0;
        for (size_t i = 0; i < r->n_vars; i++)
                if (r->vars[i].key_len == 11 && memcmp(r->vars[i].key, "HTTP_ACCEPT", 11) == 0)
                        n++;
        assert_int_equal(n, 1);
}

static void test_server_name_is_host_without_port(void **state) {
        static const struct {
                const char *host; /* NULL: no Host header */
                const char *name;
        } cases[] = {
                { "example.com:8080", "example.com" },
                { "example.com", "example.com" },
                { "[::1]:8080", "[::1]" },
                { "[::1]", "[::1]" },
                { "127.0.0.1:80", "127.0.0.1" },
                { NULL, "198.51.100.1" }, /* the connection's local address */
        };
        Fixture *f = *state;
        char head[256];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                restart(f, SOCKET_HTTP, 1000);
                if (cases[i].host)
                        (void) snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
                                        cases[i].host);
                else
                        (void) snprintf(head, sizeof(head), "GET / HTTP/1.0\r\n\r\n");
                assert_int_equal(feed_http(f, head), 0);
                assert_var(&f->r, "SERVER_NAME", cases[i].name);
                assert_var(&f->r, "SERVER_PORT", "8080");
        }
}

static void test_http11_keeps_alive_unless_connection_close(void **state) {
        Fixture *f = *state;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_true(f->r.keep_alive);
        assert_false(f->r.http10);
        assert_false(f->r.head);

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"), 0);
        assert_false(f->r.keep_alive);
        assert_false(f->r.http10);
}

static void test_http10_closes_unless_keep_alive(void **state) {
        Fixture *f = *state;

        assert_int_equal(feed_http(f, "GET / HTTP/1.0\r\n\r\n"), 0);
        assert_false(f->r.keep_alive);
        assert_true(f->r.http10);
        assert_var(&f->r, "SERVER_PROTOCOL", "HTTP/1.0");

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
        assert_true(f->r.keep_alive);
        assert_true(f->r.http10);
}

static void test_head_method_sets_head(void **state) {
        Fixture *f = *state;

        assert_int_equal(feed_http(f, "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_true(f->r.head);
        assert_var(&f->r, "REQUEST_METHOD", "HEAD");

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "HEADX /x HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_false(f->r.head);
}

static void test_chunked_request_has_chunked_body_mode(void **state) {
        Fixture *f = *state;

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n"),
                         0);
        assert_int_equal(f->r.body_mode, BODY_CHUNKED);
        assert_false(f->r.body_done);
        assert_var(&f->r, "CONTENT_LENGTH", "");
        assert_var(&f->r, "HTTP_TRANSFER_ENCODING", "chunked");

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n"
                                      "Content-Length: 0\r\n\r\n"),
                         0);
        assert_int_equal(f->r.body_mode, BODY_NONE);
        assert_true(f->r.body_done);
        assert_var(&f->r, "CONTENT_LENGTH", "0");
}

static void test_small_scratch_is_431_without_overflow(void **state) {
        Fixture *f = *state;
        /* Exactly sized heap blocks, so that ASan sees a write past the end. */
        char *scratch = malloc(24);

        assert_non_null(scratch);
        static const char head[] = "GET /0123456789abcdefghijklmnopqrstuvwxyz HTTP/1.1\r\n"
                                   "Host: h\r\n\r\n";
        memcpy(f->in.data, head, strlen(head));
        assert_true(http_request_parse(f->in.data, strlen(head), &f->http) > 0);
        assert_int_equal(request_from_http(&f->r, &f->http, &f->ci, scratch, 24), -431);

        restart(f, SOCKET_HTTP, 1000);
        static const char head2[] = "GET / HTTP/1.1\r\nHost: h\r\n"
                                    "X-A-Rather-Long-Header-Name: 1\r\n\r\n";
        memcpy(f->in.data, head2, strlen(head2));
        assert_true(http_request_parse(f->in.data, strlen(head2), &f->http) > 0);
        assert_int_equal(request_from_http(&f->r, &f->http, &f->ci, scratch, 24), -431);
        free(scratch);
}

static void test_content_length_over_limit_post_is_413(void **state) {
        Fixture *f = *state;

        f->r.limit_post = 10;
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n"
                                      "Content-Length: 11\r\n\r\n"),
                         -413);

        restart(f, SOCKET_HTTP, 1000);
        f->r.limit_post = 10;
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n"
                                      "Content-Length: 10\r\n\r\n"),
                         0);
        assert_int_equal(f->r.body_left, 10);
}

static void test_expect_continue_is_ignored_for_http10(void **state) {
        Fixture *f = *state;

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                                      "Content-Length: 1\r\n\r\n"),
                         0);
        assert_true(f->r.expect_continue);

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "POST / HTTP/1.0\r\nExpect: 100-continue\r\n"
                                      "Content-Length: 1\r\n\r\n"),
                         0);
        assert_false(f->r.expect_continue);
}

static void test_add_var_fails_when_full(void **state) {
        Fixture *f = *state;

        for (size_t i = 0; i < REQUEST_MAX_VARS; i++)
                assert_int_equal(request_add_var(&f->r, "K", 1, "v", 1), 0);
        assert_int_equal(request_add_var(&f->r, "K", 1, "v", 1), -E2BIG);
        assert_int_equal(f->r.n_vars, REQUEST_MAX_VARS);
        assert_null(request_get_var(&f->r, "k", NULL));
}

/* ---- request_from_uwsgi ---- */

static void test_uwsgi_packet_drops_duplicate_content_headers(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "hello",
                                    "REQUEST_METHOD", "POST",
                                    "REQUEST_URI", "/up?x=1",
                                    "PATH_INFO", "/up",
                                    "QUERY_STRING", "x=1",
                                    "SERVER_PROTOCOL", "HTTP/1.1",
                                    "CONTENT_TYPE", "text/plain",
                                    "CONTENT_LENGTH", "5",
                                    "HTTP_CONTENT_TYPE", "text/plain",
                                    "HTTP_CONTENT_LENGTH", "5",
                                    "HTTP_HOST", "example.com",
                                    "REMOTE_ADDR", "203.0.113.9",
                                    NULL),
                         0);
        assert_var(r, "HTTP_CONTENT_LENGTH", NULL);
        assert_var(r, "HTTP_CONTENT_TYPE", NULL);
        assert_var(r, "CONTENT_LENGTH", "5");
        assert_var(r, "CONTENT_TYPE", "text/plain");
        assert_var(r, "HTTP_HOST", "example.com");
        assert_var(r, "REMOTE_ADDR", "203.0.113.9");
        assert_var(r, "PATH_INFO", "/up");
        assert_int_equal(r->n_vars, 9);
        assert_int_equal(r->method_len, 4);
        assert_memory_equal(r->method, "POST", 4);
        assert_int_equal(r->uri_len, 7);
        assert_memory_equal(r->uri, "/up?x=1", 7);
        assert_false(r->keep_alive);
        assert_false(r->http10);
        assert_false(r->head);
        assert_string_equal(r->url_scheme, "http");
        assert_int_equal(r->body_mode, BODY_LENGTH);
        assert_int_equal(r->body_left, 5);

        char buf[16];
        assert_int_equal(read_body_all(r, buf, sizeof(buf), 16), 5);
        assert_memory_equal(buf, "hello", 5);
}

static void test_uwsgi_https_scheme(void **state) {
        Fixture *f = *state;

        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "REQUEST_METHOD", "GET", "UWSGI_SCHEME", "https", NULL),
                         0);
        assert_string_equal(f->r.url_scheme, "https");

        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "REQUEST_METHOD", "GET",
                                    "REQUEST_SCHEME", "https", NULL),
                         0);
        assert_string_equal(f->r.url_scheme, "https");

        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "REQUEST_METHOD", "GET",
                                    "REQUEST_SCHEME", "http", NULL),
                         0);
        assert_string_equal(f->r.url_scheme, "http");
        assert_true(f->r.body_done);
        assert_int_equal(f->r.body_mode, BODY_NONE);
}

static void test_uwsgi_defaults_method_uri_and_remote_addr(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "PATH_INFO", "/only", "SERVER_PROTOCOL", "HTTP/1.0",
                                    NULL),
                         0);
        assert_var(r, "REQUEST_METHOD", "GET");
        assert_var(r, "REMOTE_ADDR", "192.0.2.7");
        assert_int_equal(r->uri_len, 5);
        assert_memory_equal(r->uri, "/only", 5);
        assert_true(r->http10);

        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "REQUEST_METHOD", "HEAD", NULL), 0);
        assert_true(r->head);
        assert_int_equal(r->uri_len, 0);
}

static void test_uwsgi_bad_content_length_is_400_and_over_limit_413(void **state) {
        Fixture *f = *state;

        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "CONTENT_LENGTH", "12a", NULL), -400);
        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "CONTENT_LENGTH", "-1", NULL), -400);
        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "CONTENT_LENGTH", "99999999999999999999", NULL), -400);
        restart(f, SOCKET_UWSGI, 1000);
        f->r.limit_post = 4;
        assert_int_equal(feed_uwsgi(f, "", "CONTENT_LENGTH", "5", NULL), -413);
        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "CONTENT_LENGTH", "", NULL), 0);
        assert_true(f->r.body_done);
}

/* ---- the request body ---- */

static void test_length_body_reads_buffer_then_socket(void **state) {
        Fixture *f = *state;
        char buf[64];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n"
                                      "Content-Length: 11\r\n\r\nhel"),
                         0);
        client_send(f, "lo worldNEXT");
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 3);
        assert_memory_equal(buf, "hel", 3);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 8);
        assert_memory_equal(buf, "lo world", 8);
        assert_true(f->r.body_done);
        assert_int_equal(f->r.body_read, 11);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 0);
        /* Not a byte past the body was taken from the socket. */
        assert_socket_holds(f, "NEXT");
        assert_client_received(f, "");
}

static void test_length_body_leaves_pipelined_bytes_in_buffer(void **state) {
        Fixture *f = *state;
        char buf[64];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
                                      "helloGET /2 HTTP/1.1\r\n\r\n"),
                         0);
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 2), 5);
        assert_memory_equal(buf, "hello", 5);
        assert_buffer_holds(f, "GET /2 HTTP/1.1\r\n\r\n");
}

static void test_chunked_body_leaves_pipelined_bytes_in_buffer(void **state) {
        Fixture *f = *state;
        char buf[4096];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n5\r\nhel"),
                         0);
        client_send(f, "lo\r\n6\r\n world\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 3);
        assert_memory_equal(buf, "hel", 3);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 8);
        assert_memory_equal(buf, "lo world", 8);
        assert_true(f->r.body_done);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 0);
        assert_int_equal(f->r.body_read, 11);
        assert_buffer_holds(f, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_socket_holds(f, "");
}

static void test_chunked_body_read_in_small_pieces_keeps_the_next_request(void **state) {
        static const char next[] = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
        Fixture *f = *state;
        char buf[256], rest[256];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n3\r\nabc\r\n"),
                         0);
        client_send(f, "a;ext=1\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n");
        client_send(f, next);
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 3), 13);
        assert_memory_equal(buf, "abc0123456789", 13);
        /* What followed the body is split between the buffer and the socket, in order. */
        size_t kept = f->in.end - f->in.start;
        assert_true(kept <= strlen(next));
        memcpy(rest, f->in.data + f->in.start, kept);
        ssize_t k = recv(f->server, rest + kept, sizeof(rest) - kept - 1, 0);
        if (k < 0) {
                assert_int_equal(errno, EAGAIN);
                k = 0;
        }
        rest[kept + k] = 0;
        assert_string_equal(rest, next);
}

static void test_chunked_body_in_buffer_leaves_pipelined_bytes(void **state) {
        Fixture *f = *state;
        char buf[64];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\nPUT /3 HTTP/1.1\r\n"),
                         0);
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 64), 3);
        assert_memory_equal(buf, "abc", 3);
        assert_buffer_holds(f, "PUT /3 HTTP/1.1\r\n");
}

static void test_pipelined_bytes_beyond_the_buffer_close_the_connection(void **state) {
        Fixture *f = *state;
        char buf[4096], next[101];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n"),
                         0);
        f->in.size = 32; /* a small buffer-size */
        memset(next, 'N', 100);
        next[100] = 0;
        client_send(f, "3\r\nabc\r\n0\r\n\r\n");
        client_send(f, next);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 3);
        assert_true(f->r.body_done);
        assert_int_equal(f->in.start, 0);
        assert_int_equal(f->in.end, 32);
        assert_memory_equal(f->in.data, next, 32);
        assert_false(f->r.keep_alive);
}

static void test_malformed_chunked_body_is_ebadmsg(void **state) {
        Fixture *f = *state;
        char buf[64];

        /* In the buffer... */
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\nzz\r\nhello\r\n"),
                         0);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), -EBADMSG);
        assert_int_equal(f->r.body_errno, EBADMSG);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), -EBADMSG);

        /* ... and from the socket: a chunk without its CRLF. */
        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n"),
                         0);
        client_send(f, "3\r\nabcX\r\n0\r\n\r\n");
        ssize_t n = read_body_all(&f->r, buf, sizeof(buf), 64);
        assert_int_equal(n, -EBADMSG);
        assert_int_equal(request_drain_body(&f->r), -EBADMSG);
}

static void test_chunked_body_over_limit_post_is_efbig(void **state) {
        Fixture *f = *state;
        char buf[64];

        f->r.limit_post = 4;
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n5\r\nhello\r\n"),
                         0);
        client_send(f, "3\r\nabc\r\n0\r\n\r\n");
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), -EFBIG);
        assert_int_equal(f->r.body_errno, EFBIG);
        /* It stays failed: the rest is not read. */
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), -EFBIG);
        assert_int_equal(request_drain_body(&f->r), -EFBIG);
        assert_socket_holds(f, "3\r\nabc\r\n0\r\n\r\n");

        /* Exactly the limit is fine. */
        restart(f, SOCKET_HTTP, 1000);
        f->r.limit_post = 5;
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n5\r\nhello\r\n0\r\n\r\n"),
                         0);
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 64), 5);
}

static void test_chunked_limit_post_error_stays_when_the_body_ended(void **state) {
        Fixture *f = *state;
        char buf[64];

        /* Regression (was a bug): when the read that crosses limit-post also completes the chunked body,
         * read_chunked() has set body_done, and request_read_body() tests body_done before
         * body_errno: the next read returns 0 (a clean end of an empty body) instead of
         * -EFBIG, so an app that catches the first error sees a complete, truncated body. */
        f->r.limit_post = 4;
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n5\r\nhello\r\n0\r\n\r\n"),
                         0);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), -EFBIG);
        assert_int_equal(f->r.body_errno, EFBIG);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), -EFBIG);
}

static void test_silent_client_times_out(void **state) {
        Fixture *f = *state;
        char buf[64];

        restart(f, SOCKET_HTTP, 100);
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n"
                                      "Content-Length: 5\r\n\r\n"), 0);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), -ETIMEDOUT);
        assert_int_equal(f->r.body_errno, ETIMEDOUT);
        /* It stays failed, without waiting again. */
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), -ETIMEDOUT);
        assert_int_equal(request_drain_body(&f->r), -ETIMEDOUT);

        restart(f, SOCKET_HTTP, 100);
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n5\r\nhe"),
                         0);
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 64), -ETIMEDOUT);
}

static void test_client_closing_mid_body_is_econnreset(void **state) {
        Fixture *f = *state;
        char buf[64];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n"
                                      "Content-Length: 10\r\n\r\nab"),
                         0);
        client_send(f, "cd");
        assert_int_equal(shutdown(f->client, SHUT_WR), 0);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 2);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 2);
        assert_memory_equal(buf, "cd", 2);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), -ECONNRESET);
        assert_int_equal(f->r.body_errno, ECONNRESET);
}

static void test_client_closing_mid_chunked_body_is_econnreset(void **state) {
        Fixture *f = *state;
        char buf[64];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n"),
                         0);
        client_send(f, "5\r\nhel");
        assert_int_equal(shutdown(f->client, SHUT_WR), 0);
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 64), -ECONNRESET);
}

static void test_expect_continue_is_sent_before_the_first_socket_read(void **state) {
        Fixture *f = *state;
        char buf[64];

        restart(f, SOCKET_HTTP, 100);
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                                      "Content-Length: 5\r\n\r\n"),
                         0);
        /* The client sends nothing until it sees the 100: the read waits in vain, but the 100
         * must be out before it waits. */
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), -ETIMEDOUT);
        assert_client_received(f, "HTTP/1.1 100 Continue\r\n\r\n");
        assert_true(f->r.continue_sent);
}

static void test_expect_continue_is_sent_once(void **state) {
        Fixture *f = *state;
        char buf[64];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n"),
                         0);
        client_send(f, "2\r\nab\r\n");
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 2);
        assert_client_received(f, "HTTP/1.1 100 Continue\r\n\r\n");
        client_send(f, "0\r\n\r\n");
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 0);
        assert_client_received(f, "");
}

static void test_expect_continue_is_not_sent_when_body_is_buffered(void **state) {
        Fixture *f = *state;
        char buf[64];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                                      "Content-Length: 5\r\n\r\nhello"),
                         0);
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 64), 5);
        assert_client_received(f, "");
        assert_false(f->r.continue_sent);

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"),
                         0);
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 64), 1);
        assert_client_received(f, "");
}

static void test_expect_continue_is_not_sent_after_the_response_head(void **state) {
        Fixture *f = *state;
        char buf[64];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                                      "Content-Length: 5\r\n\r\n"),
                         0);
        assert_int_equal(start(&f->r, "200 OK"), 0);
        assert_int_equal(add_header(&f->r, "Content-Length", "0"), 0);
        assert_int_equal(response_write(&f->r, NULL, 0), 0);
        client_send(f, "hello");
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 64), 5);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

static void test_buffer_body_into_memory_reads_back(void **state) {
        Fixture *f = *state;
        char buf[64];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n"
                                      "Content-Length: 11\r\n\r\nhello"),
                         0);
        client_send(f, " world");
        assert_int_equal(request_buffer_body(&f->r, 1024), 0);
        assert_int_equal(f->r.body_mode, BODY_MEMORY);
        assert_int_equal(f->r.body_left, 11);
        assert_int_equal(f->r.body_read, 0);
        assert_false(f->r.body_done);
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 4), 11);
        assert_memory_equal(buf, "hello world", 11);
        assert_true(f->r.body_done);
        /* Buffered: nothing left to drain. */
        assert_int_equal(request_drain_body(&f->r), 0);
}

static void test_buffer_body_spills_to_temp_file_and_reads_back(void **state) {
        enum { N = 50000, LEFTOVER = 1000 };
        Fixture *f = *state;
        char head[128], *body = malloc(N), *back = malloc(N + 8192);

        assert_non_null(body);
        assert_non_null(back);
        for (size_t i = 0; i < N; i++)
                body[i] = (char) ('a' + (i * 7 + i / 251) % 26);
        int hl = snprintf(head, sizeof(head),
                          "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", N);
        char *bytes = malloc(hl + LEFTOVER);
        assert_non_null(bytes);
        memcpy(bytes, head, hl);
        memcpy(bytes + hl, body, LEFTOVER);
        assert_int_equal(feed_http_n(f, bytes, hl + LEFTOVER), 0);
        client_send_n(f, body + LEFTOVER, N - LEFTOVER);

        assert_int_equal(request_buffer_body(&f->r, 4096), 0);
        assert_int_equal(f->r.body_mode, BODY_FILE);
        assert_true(f->r.body_fd >= 0);
        assert_null(f->r.body_mem);
        assert_int_equal(f->r.body_left, N);
        assert_int_equal(read_body_all(&f->r, back, N + 8192, 7000), N);
        assert_memory_equal(back, body, N);
        assert_true(f->r.body_done);
        request_body_free(&f->r);
        assert_int_equal(f->r.body_fd, -1);
        free(bytes);
        free(body);
        free(back);
}

static void test_buffer_chunked_body_into_file_reads_back(void **state) {
        Fixture *f = *state;
        char buf[64];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n4\r\nWiki\r\n5\r\npedia\r\n"),
                         0);
        client_send(f, "e\r\n in\r\n\r\nchunks.\r\n0\r\n\r\nNEXT");
        assert_int_equal(request_buffer_body(&f->r, 8), 0);
        assert_int_equal(f->r.body_mode, BODY_FILE);
        assert_int_equal(f->r.body_left, 23);
        assert_int_equal(read_body_all(&f->r, buf, sizeof(buf), 5), 23);
        assert_memory_equal(buf, "Wikipedia in\r\n\r\nchunks.", 23);
        assert_buffer_holds(f, "NEXT");
}

static void test_buffer_body_of_bodiless_request_does_nothing(void **state) {
        Fixture *f = *state;
        char buf[8];

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(request_buffer_body(&f->r, 0), 0);
        assert_int_equal(f->r.body_mode, BODY_NONE);
        assert_int_equal(request_read_body(&f->r, buf, sizeof(buf)), 0);
}

static void test_buffer_body_reports_limit_post(void **state) {
        Fixture *f = *state;

        f->r.limit_post = 3;
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n5\r\nhello\r\n0\r\n\r\n"),
                         0);
        assert_int_equal(request_buffer_body(&f->r, 1024), -EFBIG);
        assert_null(f->r.body_mem);
        assert_int_equal(f->r.body_fd, -1);
}

static void test_drain_body_discards_the_rest_and_keeps_the_next_request(void **state) {
        Fixture *f = *state;
        char buf[4];

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n"
                                      "Content-Length: 10\r\n\r\nabc"),
                         0);
        client_send(f, "defghijNEXT");
        assert_int_equal(request_read_body(&f->r, buf, 2), 2);
        assert_int_equal(request_drain_body(&f->r), 0);
        assert_true(f->r.body_done);
        assert_socket_holds(f, "NEXT");

        restart(f, SOCKET_HTTP, 1000);
        f->r.limit_post = 2; /* a drain is not limited by it, and leaves it in place */
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                      "\r\n3\r\nab"),
                         0);
        client_send(f, "c\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        assert_int_equal(request_drain_body(&f->r), 0);
        assert_true(f->r.body_done);
        assert_int_equal(f->r.limit_post, 2);
        assert_buffer_holds(f, "GET / HTTP/1.1\r\n\r\n");
}

static void test_drain_body_gives_up_without_100_continue_or_when_huge(void **state) {
        Fixture *f = *state;

        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                                      "Content-Length: 5\r\n\r\n"),
                         0);
        assert_int_equal(request_drain_body(&f->r), -EPIPE);
        assert_client_received(f, "");

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n"
                                      "Content-Length: 2000000\r\n\r\n"),
                         0);
        assert_int_equal(request_drain_body(&f->r), -EFBIG);

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(request_drain_body(&f->r), 0);
}

/* ---- the response ---- */

static void test_response_start_rejects_bad_status(void **state) {
        static const char *const bad[] = {
                "", "20", "abc OK", "2x0 OK", "200OK", "099 Low", "200 O\rK", "200 O\nK",
        };
        Fixture *f = *state;
        Request *r = &f->r;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(start(r, bad[i]), -EINVAL);
        assert_int_equal(response_start(r, "200 O\0K", 7), -EINVAL);
        char long_status[200];
        memset(long_status, 'x', sizeof(long_status));
        memcpy(long_status, "200 ", 4);
        assert_int_equal(response_start(r, long_status, sizeof(long_status)), -EINVAL);
        assert_false(r->started);

        assert_int_equal(start(r, "404"), 0);
        assert_int_equal(r->status, 404);
        assert_int_equal(start(r, "201 Created"), 0);
        assert_int_equal(r->status, 201);
        assert_true(r->started);
        assert_int_equal(r->status_line_len, strlen("HTTP/1.1 201 Created\r\n"));
        assert_memory_equal(r->status_line, "HTTP/1.1 201 Created\r\n", r->status_line_len);
}

static void test_response_add_header_rejects_bad_names_and_values(void **state) {
        static const char *const bad_names[] = {
                "", "Bad Name", "X:Y", "X\tY", "Caf\xc3\xa9", "(x)",
        };
        static const char *const bad_values[] = {
                "a\rb", "a\nb", "a\r\nX-Injected: 1", "\x7f", "\x01",
        };
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(start(r, "200 OK"), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++)
                assert_int_equal(add_header(r, bad_names[i], "v"), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(bad_values); i++)
                assert_int_equal(add_header(r, "X-Ok", bad_values[i]), -EINVAL);
        assert_int_equal(response_add_header(r, "X-Ok", 4, "a\0b", 3), -EINVAL);
        assert_int_equal(r->headers_len, 0);

        assert_int_equal(add_header(r, "X-Tab", "a\tb"), 0);
        assert_int_equal(add_header(r, "X-Utf8", "caf\xc3\xa9"), 0);
        assert_int_equal(add_header(r, "X-Empty", ""), 0);
        assert_int_equal(add_header(r, "x!#$%&'*+-.^_`|~9", "tokens"), 0);
        static const char expected[] = "X-Tab: a\tb\r\nX-Utf8: caf\xc3\xa9\r\nX-Empty: \r\n"
                                       "x!#$%&'*+-.^_`|~9: tokens\r\n";
        assert_int_equal(r->headers_len, strlen(expected));
        assert_memory_equal(r->headers, expected, strlen(expected));
}

static void test_content_length_header_is_validated(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Length", ""), -EINVAL);
        assert_int_equal(add_header(r, "Content-Length", "abc"), -EINVAL);
        assert_int_equal(add_header(r, "Content-Length", "-1"), -EINVAL);
        assert_int_equal(add_header(r, "Content-Length", " 5"), -EINVAL);
        assert_int_equal(add_header(r, "Content-Length", "1234567890123456789"), -EINVAL);
        assert_int_equal(r->content_length, -1);
        assert_int_equal(add_header(r, "content-length", "5"), 0);
        assert_int_equal(r->content_length, 5);
        /* The same again is harmless and not repeated; another value is a conflict. */
        assert_int_equal(add_header(r, "Content-Length", "5"), 0);
        assert_int_equal(add_header(r, "Content-Length", "6"), -EINVAL);
        assert_int_equal(r->content_length, 5);
        assert_int_equal(r->headers_len, strlen("content-length: 5\r\n"));
}

static void test_known_length_is_sent_without_chunking(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Type", "text/plain"), 0);
        assert_int_equal(add_header(r, "Content-Length", "11"), 0);
        assert_int_equal(write_str(r, "hello"), 0);
        assert_int_equal(write_str(r, " world"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                  "Content-Length: 11\r\n\r\nhello world");
        assert_false(r->chunked_out);
        assert_true(r->keep_alive);
        assert_int_equal(r->bytes_sent, 11);
}

static void test_unknown_length_on_http11_is_chunked(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;
        struct iovec two[] = { { (void *) "ab", 2 }, { (void *) "cde", 3 } };
        struct iovec empty = { (void *) "", 0 };

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Type", "text/plain"), 0);
        assert_int_equal(write_str(r, "hello"), 0);
        assert_int_equal(response_write(r, &empty, 1), 0);
        assert_int_equal(write_str(r, " world"), 0);
        assert_int_equal(response_write(r, two, 2), 0);
        assert_int_equal(write_str(r, "0123456789abcdefX"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n"
                                  "5\r\nhello\r\n6\r\n world\r\n5\r\nabcde\r\n"
                                  "11\r\n0123456789abcdefX\r\n0\r\n\r\n");
        assert_true(r->chunked_out);
        assert_true(r->keep_alive);
        assert_int_equal(r->bytes_sent, 33);
}

static void test_chunked_write_of_many_pieces_decodes_to_the_body(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;
        struct iovec iov[100];
        char decoded[512];

        for (size_t i = 0; i < ELEMENTSOF(iov); i++)
                iov[i] = (struct iovec) { (void *) "x", 1 };
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(response_write(r, iov, ELEMENTSOF(iov)), 0);
        assert_int_equal(response_finish(r), 0);
        /* The chunks may be cut anywhere; the decoded body must be exactly 100 'x'. */
        static char got[4096];
        size_t n = client_recv(f, got, sizeof(got));
        static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_true(n > strlen(head));
        assert_memory_equal(got, head, strlen(head));
        HttpChunked c = { 0 };
        size_t used = 0, out = 0;
        assert_int_equal(http_chunked_decode(&c, got + strlen(head), n - strlen(head), &used,
                                             decoded, sizeof(decoded), &out),
                         1);
        assert_int_equal(used, n - strlen(head));
        assert_int_equal(out, 100);
        for (size_t i = 0; i < out; i++)
                assert_int_equal(decoded[i], 'x');
        assert_int_equal(r->bytes_sent, 100);
}

static void test_unknown_length_on_http10_closes_the_connection(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
        assert_true(r->keep_alive);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Type", "text/plain"), 0);
        assert_int_equal(write_str(r, "hello"), 0);
        assert_int_equal(write_str(r, " world"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                  "Connection: close\r\n\r\nhello world");
        assert_false(r->keep_alive);
        assert_false(r->chunked_out);
}

static void test_http10_keep_alive_with_length_says_keep_alive(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(response_set_length(r, 2), 0);
        assert_int_equal(write_str(r, "ok"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                  "Connection: keep-alive\r\n\r\nok");
        assert_true(r->keep_alive);
}

static void test_head_response_has_no_body(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Length", "5"), 0);
        assert_int_equal(write_str(r, "hello"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        assert_true(r->keep_alive);

        /* Unknown length: no chunked framing either, and the connection lives on. */
        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Type", "text/html"), 0);
        assert_int_equal(write_str(r, "<html>"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n");
        assert_false(r->chunked_out);
        assert_true(r->keep_alive);

        /* Nor through sendfile. */
        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        _cleanup_close_ int fd = temp_file_with("0123456789");
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(response_set_length(r, 10), 0);
        assert_int_equal(response_sendfile(r, fd, 0, 10), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
}

static void test_204_and_304_have_no_body_and_no_framing(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "204 No Content"), 0);
        assert_int_equal(write_str(r, "ignored"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 204 No Content\r\n\r\n");
        assert_true(r->keep_alive);
        assert_false(r->chunked_out);

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "304 Not Modified"), 0);
        assert_int_equal(add_header(r, "ETag", "\"v1\""), 0);
        /* The representation's length, which the bodiless 304 does not owe the client. */
        assert_int_equal(add_header(r, "Content-Length", "10"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n"
                                  "Content-Length: 10\r\n\r\n");
        assert_true(r->keep_alive);

        /* HTTP/1.0 too: a bodiless status needs no close to delimit it. */
        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
        assert_int_equal(start(r, "204 No Content"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
        assert_true(r->keep_alive);
}

static void test_set_length_adds_content_length_once(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Length", "3"), 0);
        assert_int_equal(response_set_length(r, 99), 0); /* the app's wins */
        assert_int_equal(write_str(r, "abc"), 0);
        assert_int_equal(response_set_length(r, 7), 0); /* the head is out */
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "X-A", "1"), 0);
        assert_int_equal(response_set_length(r, 11), 0);
        assert_int_equal(write_str(r, "hello world"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 11\r\n\r\n"
                                  "hello world");
        assert_true(r->keep_alive);
}

static void test_body_beyond_content_length_is_clipped(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;
        struct iovec iov[] = { { (void *) "hel", 3 }, { (void *) "lo world", 8 } };

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Length", "5"), 0);
        assert_int_equal(response_write(r, iov, 2), 0);
        assert_int_equal(write_str(r, "more"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assert_int_equal(r->bytes_sent, 5);
        assert_true(r->keep_alive);
}

static void test_body_short_of_content_length_closes_the_connection(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Length", "10"), 0);
        assert_int_equal(write_str(r, "hello"), 0);
        assert_true(r->keep_alive);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
        assert_false(r->keep_alive);
}

static void test_hop_by_hop_headers_from_the_app_are_dropped(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Keep-Alive", "timeout=5"), 0);
        assert_int_equal(add_header(r, "Transfer-Encoding", "chunked"), 0);
        assert_int_equal(add_header(r, "X-A", "1"), 0);
        assert_int_equal(add_header(r, "Connection", "keep-alive"), 0);
        assert_true(r->keep_alive);
        assert_int_equal(write_str(r, "hi"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "2\r\nhi\r\n0\r\n\r\n");
        assert_true(r->keep_alive);

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Connection", "close"), 0);
        assert_false(r->keep_alive);
        assert_int_equal(add_header(r, "Content-Length", "2"), 0);
        assert_int_equal(write_str(r, "hi"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                  "Connection: close\r\n\r\nhi");
        assert_false(r->keep_alive);
}

static void test_connection_close_from_the_app_is_case_insensitive(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        /* Regression (was a bug): response_add_header() looks for "close" in a Connection value with memmem(),
         * case-sensitively, but connection options are case-insensitive (RFC 9110 7.6.1): an
         * app sending "Connection: Close" has its header dropped and the connection is kept
         * alive against its wish. */
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "connection", "Close"), 0);
        assert_int_equal(r->headers_len, 0);
        assert_false(r->keep_alive);
}

static void test_response_error_sends_exact_bytes_and_closes(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        response_error(r, 404);
        assert_client_received(f, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                                  "Content-Length: 14\r\nConnection: close\r\n\r\n404 Not Found\n");
        assert_false(r->keep_alive);
        assert_true(r->head_sent);
        assert_int_equal(r->status, 404);
        assert_int_equal(r->bytes_sent, 14);

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "POST / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        response_error(r, 500);
        assert_client_received(f, "HTTP/1.1 500 Internal Server Error\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "Content-Length: 26\r\nConnection: close\r\n\r\n"
                                  "500 Internal Server Error\n");
}

static void test_response_error_after_the_head_only_closes(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(write_str(r, "par"), 0);
        response_error(r, 500);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "3\r\npar\r\n");
        assert_false(r->keep_alive);
}

static void test_response_error_to_head_has_no_body(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        /* Regression (was a bug): response_error() writes its "500 Internal Server Error\n" body whatever the
         * method: a HEAD request (an app raising on HEAD, a 413/408 from post-buffering)
         * gets content, which RFC 9110 9.3.2 forbids; the Content-Length header should stay. */
        assert_int_equal(feed_http(f, "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        response_error(r, 500);
        assert_client_received(f, "HTTP/1.1 500 Internal Server Error\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "Content-Length: 26\r\nConnection: close\r\n\r\n");
}

static void test_sendfile_with_known_length_sends_raw_bytes(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;
        _cleanup_close_ int fd = temp_file_with("0123456789");

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(response_set_length(r, 4), 0);
        assert_int_equal(response_sendfile(r, fd, 2, 4), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n2345");
        assert_int_equal(r->bytes_sent, 4);
        assert_true(r->keep_alive);

        /* More than Content-Length is clipped. */
        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(response_set_length(r, 3), 0);
        assert_int_equal(response_sendfile(r, fd, 0, 10), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n012");
}

static void test_sendfile_without_length_is_chunked(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;
        _cleanup_close_ int fd = temp_file_with("0123456789");

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(write_str(r, "<"), 0);
        assert_int_equal(response_sendfile(r, fd, 0, 10), 0);
        assert_int_equal(write_str(r, ">"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "1\r\n<\r\na\r\n0123456789\r\n1\r\n>\r\n0\r\n\r\n");
        assert_int_equal(r->bytes_sent, 12);
}

static void test_sendfile_of_a_short_file_fails_the_response(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;
        _cleanup_close_ int fd = temp_file_with("0123456789");

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(response_sendfile(r, fd, 4, 10), -EIO);
        assert_true(r->failed);
        assert_false(r->keep_alive);
        assert_int_equal(response_finish(r), -EPIPE);
}

static void test_writes_to_a_closed_peer_fail(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;
        _cleanup_close_ int fd = temp_file_with("0123456789");

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        f->client = safe_close(f->client);
        assert_int_equal(start(r, "200 OK"), 0);
        int k = write_str(r, "hello");
        assert_true(k < 0);
        assert_true(r->failed);
        assert_int_equal(write_str(r, "again"), -EPIPE);
        assert_int_equal(response_sendfile(r, fd, 0, 10), -EPIPE);
        assert_int_equal(response_finish(r), -EPIPE);

        /* A failed connection gets no error page either. */
        response_error(r, 500);
        assert_false(r->keep_alive);
}

static void test_write_to_a_stalled_client_times_out(void **state) {
        enum { N = 4 << 20 };
        Fixture *f = *state;
        Request *r = &f->r;
        int small = 4096;
        char *big = calloc(1, N);

        assert_non_null(big);
        (void) setsockopt(f->server, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
        (void) setsockopt(f->client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        restart(f, SOCKET_HTTP, 100);
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        struct iovec iov = { big, N };
        assert_int_equal(response_write(r, &iov, 1), -ETIMEDOUT);
        assert_true(r->failed);
        assert_int_equal(response_finish(r), -EPIPE);
        free(big);
}

static void test_uwsgi_response_has_no_framing_headers(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "REQUEST_METHOD", "GET", "SERVER_PROTOCOL", "HTTP/1.1",
                                    NULL),
                         0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Type", "text/plain"), 0);
        assert_int_equal(write_str(r, "hello"), 0);
        assert_int_equal(write_str(r, " world"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world");
        assert_false(r->chunked_out);

        restart(f, SOCKET_UWSGI, 1000);
        assert_int_equal(feed_uwsgi(f, "", "REQUEST_METHOD", "GET", NULL), 0);
        _cleanup_close_ int fd = temp_file_with("0123456789");
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(response_sendfile(r, fd, 0, 10), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\n\r\n0123456789");
}

static void test_finish_without_a_body_sends_content_length_zero(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert_true(r->keep_alive);
        assert_false(r->chunked_out);

        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "302 Found"), 0);
        assert_int_equal(add_header(r, "Location", "/there"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 302 Found\r\nLocation: /there\r\n"
                                  "Content-Length: 0\r\n\r\n");
}

static void test_restart_discards_the_unsent_response(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "X-Old", "1"), 0);
        assert_int_equal(add_header(r, "Content-Length", "100"), 0);
        response_restart(r);
        assert_false(r->started);
        assert_int_equal(start(r, "500 Internal Server Error"), 0);
        assert_int_equal(add_header(r, "X-New", "2"), 0);
        assert_int_equal(write_str(r, "oops"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "HTTP/1.1 500 Internal Server Error\r\nX-New: 2\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n4\r\noops\r\n0\r\n\r\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
                T(test_http_head_becomes_cgi_variables),
                T(test_query_string_is_empty_without_question_mark),
                T(test_absolute_form_target_is_cut_to_its_path),
                T(test_content_headers_have_no_http_prefix),
                T(test_headers_with_underscore_are_dropped),
                T(test_repeated_header_lines_become_one_variable),
                T(test_server_name_is_host_without_port),
                T(test_http11_keeps_alive_unless_connection_close),
                T(test_http10_closes_unless_keep_alive),
                T(test_head_method_sets_head),
                T(test_chunked_request_has_chunked_body_mode),
                T(test_small_scratch_is_431_without_overflow),
                T(test_content_length_over_limit_post_is_413),
                T(test_expect_continue_is_ignored_for_http10),
                T(test_add_var_fails_when_full),
                T(test_uwsgi_packet_drops_duplicate_content_headers),
                T(test_uwsgi_https_scheme),
                T(test_uwsgi_defaults_method_uri_and_remote_addr),
                T(test_uwsgi_bad_content_length_is_400_and_over_limit_413),
                T(test_length_body_reads_buffer_then_socket),
                T(test_length_body_leaves_pipelined_bytes_in_buffer),
                T(test_chunked_body_leaves_pipelined_bytes_in_buffer),
                T(test_chunked_body_read_in_small_pieces_keeps_the_next_request),
                T(test_chunked_body_in_buffer_leaves_pipelined_bytes),
                T(test_pipelined_bytes_beyond_the_buffer_close_the_connection),
                T(test_malformed_chunked_body_is_ebadmsg),
                T(test_chunked_body_over_limit_post_is_efbig),
                T(test_chunked_limit_post_error_stays_when_the_body_ended),
                T(test_silent_client_times_out),
                T(test_client_closing_mid_body_is_econnreset),
                T(test_client_closing_mid_chunked_body_is_econnreset),
                T(test_expect_continue_is_sent_before_the_first_socket_read),
                T(test_expect_continue_is_sent_once),
                T(test_expect_continue_is_not_sent_when_body_is_buffered),
                T(test_expect_continue_is_not_sent_after_the_response_head),
                T(test_buffer_body_into_memory_reads_back),
                T(test_buffer_body_spills_to_temp_file_and_reads_back),
                T(test_buffer_chunked_body_into_file_reads_back),
                T(test_buffer_body_of_bodiless_request_does_nothing),
                T(test_buffer_body_reports_limit_post),
                T(test_drain_body_discards_the_rest_and_keeps_the_next_request),
                T(test_drain_body_gives_up_without_100_continue_or_when_huge),
                T(test_response_start_rejects_bad_status),
                T(test_response_add_header_rejects_bad_names_and_values),
                T(test_content_length_header_is_validated),
                T(test_known_length_is_sent_without_chunking),
                T(test_unknown_length_on_http11_is_chunked),
                T(test_chunked_write_of_many_pieces_decodes_to_the_body),
                T(test_unknown_length_on_http10_closes_the_connection),
                T(test_http10_keep_alive_with_length_says_keep_alive),
                T(test_head_response_has_no_body),
                T(test_204_and_304_have_no_body_and_no_framing),
                T(test_set_length_adds_content_length_once),
                T(test_body_beyond_content_length_is_clipped),
                T(test_body_short_of_content_length_closes_the_connection),
                T(test_hop_by_hop_headers_from_the_app_are_dropped),
                T(test_connection_close_from_the_app_is_case_insensitive),
                T(test_response_error_sends_exact_bytes_and_closes),
                T(test_response_error_after_the_head_only_closes),
                T(test_response_error_to_head_has_no_body),
                T(test_sendfile_with_known_length_sends_raw_bytes),
                T(test_sendfile_without_length_is_chunked),
                T(test_sendfile_of_a_short_file_fails_the_response),
                T(test_writes_to_a_closed_peer_fail),
                T(test_write_to_a_stalled_client_times_out),
                T(test_uwsgi_response_has_no_framing_headers),
                T(test_finish_without_a_body_sends_content_length_zero),
                T(test_restart_discards_the_unsent_response),
#undef T
        };

        return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
