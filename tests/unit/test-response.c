/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "request-fixture.h"

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

static void test_deferred_response_goes_out_at_flush(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;

        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        r->out_defer = true;
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(add_header(r, "Content-Length", "5"), 0);
        assert_int_equal(write_str(r, "hello"), 0);
        assert_int_equal(response_finish(r), 0);
        assert_client_received(f, "");
        assert_int_equal(r->bytes_sent, 5);
        assert_int_equal(response_flush(r), 0);
        assert_client_received(f, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assert_false(r->out_defer);
        assert_int_equal(response_flush(r), 0);
        assert_client_received(f, "");
}

static void test_deferred_write_too_big_sends_what_was_kept_first(void **state) {
        Fixture *f = *state;
        Request *r = &f->r;
        static char a[RESPONSE_OUT_SIZE / 2 + 1], b[RESPONSE_OUT_SIZE / 2 + 1], want[1 << 16];

        memset(a, 'a', sizeof(a) - 1);
        memset(b, 'b', sizeof(b) - 1);
        assert_int_equal(feed_http(f, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
        r->out_defer = true;
        assert_int_equal(start(r, "200 OK"), 0);
        assert_int_equal(write_str(r, a), 0); /* kept */
        assert_client_received(f, "");
        assert_int_equal(write_str(r, b), 0); /* does not fit: both go, in order */
        assert_false(r->out_defer);
        assert_int_equal(response_finish(r), 0);
        (void) snprintf(want, sizeof(want),
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "%zx\r\n%s\r\n%zx\r\n%s\r\n0\r\n\r\n",
                        strlen(a), a, strlen(b), b);
        assert_client_received(f, want);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
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
                T(test_deferred_response_goes_out_at_flush),
                T(test_deferred_write_too_big_sends_what_was_kept_first),
#undef T
        };

        return cmocka_run_group_tests_name("response", tests, NULL, NULL);
}
