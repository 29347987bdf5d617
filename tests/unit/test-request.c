/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "request-fixture.h"

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
#undef T
        };

        return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
