/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "macro.h"

/* Asserts that (ptr, len) holds exactly the NUL-terminated string s. */
#define assert_span_equal(ptr, len, s)                           \
        do {                                                     \
                assert_int_equal((len), strlen(s));              \
                assert_memory_equal((ptr), (s), strlen(s));      \
        } while (0)

/* Parses a copy of buf[0..len) in a heap block of exactly len bytes, so that ASan catches any
 * read past the end of what the parser was given. */
static int parse_n(const char *buf, size_t len, HttpRequest *req) {
        char *copy = malloc(len ?: 1);
        int r;

        assert_non_null(copy);
        memcpy(copy, buf, len);
        r = http_request_parse(copy, len, req);
        free(copy);
        return r;
}

/* Parses s in place (its strings point into s, so it must outlive the request). */
static int parse(const char *s, HttpRequest *req) {
        return http_request_parse(s, strlen(s), req);
}

/* Feeds buf one byte more at a time, as a slow client would: every prefix shorter than the
 * head must ask for more, every longer one must give the full answer; for a bad request every
 * prefix either asks for more or fails with the same status. Returns the full answer. */
static int parse_incrementally(const char *buf, size_t len) {
        HttpRequest req;
        int full = http_request_parse(buf, len, &req);

        for (size_t n = 0; n < len; n++) {
                int r = parse_n(buf, n, &req);

                if (full > 0 && n < (size_t) full)
                        assert_int_equal(r, 0);
                else if (full > 0)
                        assert_int_equal(r, full);
                else if (r != 0)
                        assert_int_equal(r, full);
        }
        return full;
}

static void assert_rejected_n(const char *buf, size_t len, int status) {
        HttpRequest req;

        assert_int_equal(parse_n(buf, len, &req), -status);
        assert_non_null(req.error);
        assert_int_equal(parse_incrementally(buf, len), -status);
}

static void assert_rejected(const char *s, int status) {
        assert_rejected_n(s, strlen(s), status);
}

/* For literals with a NUL inside, where strlen() would stop short. */
#define assert_rejected_lit(s, status) assert_rejected_n((s), sizeof(s) - 1, (status))

static void assert_accepted(const char *s) {
        HttpRequest req;

        assert_int_equal(parse_n(s, strlen(s), &req), (int) strlen(s));
        assert_null(req.error);
}

static void test_parse_simple_get(_unused_ void **state) {
        static const char s[] = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
        HttpRequest req;

        assert_int_equal(parse(s, &req), strlen(s));
        assert_span_equal(req.method, req.method_len, "GET");
        assert_span_equal(req.target, req.target_len, "/index.html");
        assert_span_equal(req.path, req.path_len, "/index.html");
        assert_non_null(req.query);
        assert_int_equal(req.query_len, 0);
        assert_int_equal(req.version_minor, 1);
        assert_int_equal(req.n_headers, 1);
        assert_span_equal(req.headers[0].name, req.headers[0].name_len, "Host");
        assert_span_equal(req.headers[0].value, req.headers[0].value_len, "example.com");
        assert_int_equal(req.content_length, -1);
        assert_false(req.chunked);
        assert_true(req.keep_alive);
        assert_false(req.expect_continue);
        assert_null(req.error);
}

static void test_parse_derives_every_field(_unused_ void **state) {
        static const char s[] =
                "POST /upload/a%20b?x=1&y=%2F HTTP/1.1\r\n"
                "Host: h\r\n"
                "Content-Length: 42\r\n"
                "Connection: close\r\n"
                "Expect: 100-continue\r\n"
                "X-Empty:\r\n"
                "\r\n";
        HttpRequest req;

        assert_int_equal(parse(s, &req), strlen(s));
        assert_span_equal(req.method, req.method_len, "POST");
        assert_span_equal(req.target, req.target_len, "/upload/a%20b?x=1&y=%2F");
        assert_span_equal(req.path, req.path_len, "/upload/a%20b");
        assert_span_equal(req.query, req.query_len, "x=1&y=%2F");
        assert_int_equal(req.version_minor, 1);
        assert_int_equal(req.n_headers, 5);
        assert_span_equal(req.headers[4].name, req.headers[4].name_len, "X-Empty");
        assert_int_equal(req.headers[4].value_len, 0);
        assert_int_equal(req.content_length, 42);
        assert_false(req.chunked);
        assert_false(req.keep_alive);
        assert_true(req.expect_continue);
}

static void test_parse_splits_query_at_first_question_mark(_unused_ void **state) {
        HttpRequest req;

        assert_true(parse("GET /p? HTTP/1.0\r\n\r\n", &req) > 0);
        assert_span_equal(req.path, req.path_len, "/p");
        assert_int_equal(req.query_len, 0);

        assert_true(parse("GET /p??a=? HTTP/1.0\r\n\r\n", &req) > 0);
        assert_span_equal(req.path, req.path_len, "/p");
        assert_span_equal(req.query, req.query_len, "?a=?");

        assert_true(parse("GET ?q HTTP/1.0\r\n\r\n", &req) > 0);
        assert_int_equal(req.path_len, 0);
        assert_span_equal(req.query, req.query_len, "q");
}

static void test_parse_accepts_asterisk_and_absolute_form(_unused_ void **state) {
        HttpRequest req;

        assert_true(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &req) > 0);
        assert_span_equal(req.method, req.method_len, "OPTIONS");
        assert_span_equal(req.target, req.target_len, "*");

        assert_true(parse("GET http://h:8080/a/b?c=d HTTP/1.1\r\nHost: h:8080\r\n\r\n", &req) > 0);
        assert_span_equal(req.path, req.path_len, "http://h:8080/a/b");
        assert_span_equal(req.query, req.query_len, "c=d");
}

static void test_parse_accepts_extension_methods_and_utf8_targets(_unused_ void **state) {
        HttpRequest req;

        assert_true(parse("PROPFIND /dav HTTP/1.1\r\nHost: h\r\n\r\n", &req) > 0);
        assert_span_equal(req.method, req.method_len, "PROPFIND");
        assert_true(parse("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", &req) > 0);
        assert_span_equal(req.path, req.path_len, "/caf\xc3\xa9");
}

static void test_parse_trims_optional_whitespace_around_values(_unused_ void **state) {
        static const char s[] = "GET / HTTP/1.1\r\n"
                                "Host:h\r\n"
                                "A: \t v a\tl \t \r\n"
                                "B:    \r\n"
                                "C: \xe2\x82\xac\r\n"
                                "\r\n";
        HttpRequest req;

        assert_int_equal(parse(s, &req), strlen(s));
        assert_int_equal(req.n_headers, 4);
        assert_span_equal(req.headers[0].value, req.headers[0].value_len, "h");
        assert_span_equal(req.headers[1].value, req.headers[1].value_len, "v a\tl");
        assert_int_equal(req.headers[2].value_len, 0);
        /* An empty value still points inside the buffer. */
        assert_true(req.headers[2].value >= s && req.headers[2].value <= s + strlen(s));
        assert_span_equal(req.headers[3].value, req.headers[3].value_len, "\xe2\x82\xac");
}

static void test_parse_needs_more_input_for_partial_head(_unused_ void **state) {
        HttpRequest req;

        assert_int_equal(parse("", &req), 0);
        assert_int_equal(parse("\r\n", &req), 0);
        assert_int_equal(parse("GET", &req), 0);
        assert_int_equal(parse("GET / HTTP/1.1\r\n", &req), 0);
        assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\n", &req), 0);
        assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\n\r", &req), 0);
        assert_null(req.error);
}

static void test_parse_skips_leading_empty_lines(_unused_ void **state) {
        static const char s[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
        HttpRequest req;

        /* The head length covers the skipped lines, so the caller can advance by it. */
        assert_int_equal(parse(s, &req), strlen(s));
        assert_span_equal(req.method, req.method_len, "GET");
        assert_rejected("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
        assert_rejected("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

static void test_parse_returns_head_length_for_pipelined_requests(_unused_ void **state) {
        static const char s[] = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                                "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
                                "GET /c HTTP/1.0\r\n\r\n";
        size_t off = 0, len = strlen(s);
        HttpRequest req;
        int r;

        r = http_request_parse(s, len, &req);
        assert_int_equal(r, strlen("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"));
        assert_int_equal(req.content_length, 5);
        assert_memory_equal(s + r, "hello", 5);
        off = r + req.content_length;

        r = http_request_parse(s + off, len - off, &req);
        assert_int_equal(r, strlen("GET /b HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert_span_equal(req.target, req.target_len, "/b");
        off += r;

        r = http_request_parse(s + off, len - off, &req);
        assert_int_equal(r, strlen("GET /c HTTP/1.0\r\n\r\n"));
        assert_span_equal(req.target, req.target_len, "/c");
        assert_int_equal(off + r, len);
}

static void test_parse_incrementally_gives_same_result(_unused_ void **state) {
        static const char *const requests[] = {
                "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
                "\r\nGET /x?y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                ("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                 "Expect: 100-continue\r\nX-A:\t1 \r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
                "PUT /q HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\nConnection: close\r\n\r\nabc",
        };

        for (size_t i = 0; i < ELEMENTSOF(requests); i++) {
                const char *s = requests[i];
                HttpRequest whole, last;
                int r = http_request_parse(s, strlen(s), &whole);

                assert_true(r > 0);
                assert_int_equal(parse_incrementally(s, strlen(s)), r);

                /* The final, complete prefix must describe the same request. */
                assert_int_equal(parse_n(s, r, &last), r);
                assert_int_equal(last.method_len, whole.method_len);
                assert_int_equal(last.target_len, whole.target_len);
                assert_int_equal(last.n_headers, whole.n_headers);
                assert_int_equal(last.content_length, whole.content_length);
                assert_int_equal(last.chunked, whole.chunked);
                assert_int_equal(last.keep_alive, whole.keep_alive);
                assert_int_equal(last.expect_continue, whole.expect_continue);
                assert_int_equal(last.version_minor, whole.version_minor);
        }
}

static void test_parse_reads_content_length(_unused_ void **state) {
        HttpRequest req;

        assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &req) > 0);
        assert_int_equal(req.content_length, 0);
        assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n", &req) > 0);
        assert_int_equal(req.content_length, 7);
        assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\n"
                          "Content-Length: 4611686018427387904\r\n\r\n", &req) > 0);
        assert_int_equal(req.content_length, INT64_C(1) << 62);
}

static void test_parse_accepts_identical_duplicate_content_length(_unused_ void **state) {
        HttpRequest req;

        assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n"
                          "content-length: 12\r\n\r\n", &req) > 0);
        assert_int_equal(req.content_length, 12);
}

static void test_parse_rejects_conflicting_content_length(_unused_ void **state) {
        assert_rejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n"
                        "Content-Length: 13\r\n\r\n", 400);
        assert_rejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n"
                        "Content-Length: 1\r\n\r\n", 400);
}

static void test_parse_rejects_malformed_content_length(_unused_ void **state) {
        static const char *const values[] = {
                "", "-1", "+1", "1 1", "1, 1", "1,1", "0x10", "abc", "1.0", "1\t2",
                "4611686018427387905", "99999999999999999999999999",
        };

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                char s[256];

                snprintf(s, sizeof(s), "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n",
                         values[i]);
                assert_rejected(s, 400);
        }
}

static void test_parse_detects_chunked_transfer_encoding(_unused_ void **state) {
        HttpRequest req;

        assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
                          &req) > 0);
        assert_true(req.chunked);
        assert_int_equal(req.content_length, -1);
        assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding:  CHUNKED \r\n\r\n",
                          &req) > 0);
        assert_true(req.chunked);
}

static void test_parse_rejects_unsupported_transfer_encoding(_unused_ void **state) {
        static const char *const values[] = {
                "gzip", "gzip, chunked", "chunked, gzip", "identity", "", "chunkedx", "chunk",
        };

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                char s[256];

                snprintf(s, sizeof(s),
                         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: %s\r\n\r\n", values[i]);
                assert_rejected(s, 501);
        }
}

static void test_parse_rejects_transfer_encoding_with_content_length(_unused_ void **state) {
        assert_rejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n", 400);
        assert_rejected("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                        "Content-Length: 5\r\n\r\n", 400);
}

static void test_parse_rejects_duplicate_transfer_encoding(_unused_ void **state) {
        assert_rejected("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n", 400);
}

static void test_parse_rejects_transfer_encoding_in_http10(_unused_ void **state) {
        assert_rejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

static void test_parse_derives_keep_alive_from_version_and_connection(_unused_ void **state) {
        static const struct {
                int minor;
                const char *connection; /* NULL: no Connection header */
                bool keep_alive;
        } cases[] = {
                { 1, NULL, true },
                { 1, "close", false },
                { 1, "Close", false },
                { 1, "Keep-Alive, CLOSE", false },
                { 1, "upgrade", true },
                { 1, "closed", true },
                { 1, " ,, close ,", false },
                { 0, NULL, false },
                { 0, "keep-alive", true },
                { 0, "foo,  KEEP-ALIVE\t", true },
                { 0, "keep-alive, close", false },
                { 0, "keep-alive-ish", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char s[256];
                HttpRequest req;

                snprintf(s, sizeof(s), "GET / HTTP/1.%d\r\nHost: h\r\n%s%s%s\r\n", cases[i].minor,
                         cases[i].connection ? "Connection: " : "", strempty(cases[i].connection),
                         cases[i].connection ? "\r\n" : "");
                assert_int_equal(parse(s, &req), strlen(s));
                assert_int_equal(req.version_minor, cases[i].minor);
                assert_int_equal(req.keep_alive, cases[i].keep_alive);
        }
}

static void test_parse_combines_connection_headers(_unused_ void **state) {
        HttpRequest req;

        assert_true(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
                          &req) > 0);
        assert_false(req.keep_alive);
        assert_true(parse("GET / HTTP/1.0\r\nConnection: te\r\nConnection: keep-alive\r\n\r\n",
                          &req) > 0);
        assert_true(req.keep_alive);
}

static void test_parse_detects_expect_continue(_unused_ void **state) {
        HttpRequest req;

        assert_true(parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n", &req) > 0);
        assert_true(req.expect_continue);
        assert_true(parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue-x\r\n\r\n", &req) > 0);
        assert_false(req.expect_continue);
        /* RFC 9110 section 10.1.1: ignored from an HTTP/1.0 client. */
        assert_true(parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &req) > 0);
        assert_false(req.expect_continue);
}

static void test_parse_requires_host_in_http11(_unused_ void **state) {
        assert_rejected("GET / HTTP/1.1\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nX-Host: h\r\n\r\n", 400);
        assert_accepted("GET / HTTP/1.0\r\n\r\n");
        assert_accepted("GET / HTTP/1.1\r\nHOST:\r\n\r\n");
}

static void test_parse_rejects_duplicate_host(_unused_ void **state) {
        assert_rejected("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}

static void test_parse_rejects_unsupported_versions_with_505(_unused_ void **state) {
        assert_rejected("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
        assert_rejected("GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505);
        assert_rejected("GET / HTTP/0.9\r\n\r\n", 505);
        assert_rejected("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505);
        assert_rejected("GET / HTTP/9.9\r\n\r\n", 505);
}

static void test_parse_rejects_malformed_versions_with_400(_unused_ void **state) {
        static const char *const versions[] = {
                "HTTP/1", "HTTP/1.1 ", "http/1.1", "HTTP/1.10", "HTTP/11.1", "HTTP/x.1",
                "HTTP/1.x", "HTTP/1,1", "HTTPS/1.1", "FOO", "HTTP/", " HTTP/1.1",
        };

        for (size_t i = 0; i < ELEMENTSOF(versions); i++) {
                char s[256];

                snprintf(s, sizeof(s), "GET / %s\r\nHost: h\r\n\r\n", versions[i]);
                assert_rejected(s, 400);
        }
}

static void test_parse_rejects_http09_request_line(_unused_ void **state) {
        assert_rejected("GET /\r\n\r\n", 400);
        assert_rejected("GET /\r\nHost: h\r\n\r\n", 400);
}

static void test_parse_rejects_malformed_request_lines(_unused_ void **state) {
        static const char *const lines[] = {
                "GET  / HTTP/1.1",   /* two spaces */
                " GET / HTTP/1.1",   /* leading space */
                "GET /  HTTP/1.1",
                "GET\t/ HTTP/1.1",   /* HTAB is not SP */
                "G(T / HTTP/1.1",    /* '(' is not a tchar */
                "GET /a\x01 HTTP/1.1",
                "GET /a\x7f HTTP/1.1",
                "GET /a\tb HTTP/1.1",
                " / HTTP/1.1",       /* empty method */
                "GET  HTTP/1.1",     /* empty target */
                "GET / HTTP/1.1 extra",
                "GET/ HTTP/1.1",
        };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                char s[256];

                snprintf(s, sizeof(s), "%s\r\nHost: h\r\n\r\n", lines[i]);
                assert_rejected(s, 400);
        }
        /* NUL in the method and in the target. */
        assert_rejected_lit("G\0T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
        assert_rejected_lit("GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

static void test_parse_rejects_bare_cr(_unused_ void **state) {
        assert_rejected("GET / HTTP/1.1\rHost: h\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\n\rX", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", 400);
}

static void test_parse_rejects_bare_lf(_unused_ void **state) {
        /* Tolerating it would let a header hide inside another's value for any proxy in front
         * of us that does not (RFC 9112 section 2.2 only says MAY). */
        assert_rejected("GET / HTTP/1.1\nHost: h\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\nX: a\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\n\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nX: a\n\r\n", 400);
}

static void test_parse_rejects_obs_fold(_unused_ void **state) {
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400);
        /* Whitespace between the request line and the first header. */
        assert_rejected("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400);
}

static void test_parse_rejects_control_characters_in_values(_unused_ void **state) {
        static const char ctl[] = { 0x01, 0x08, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f };

        for (size_t i = 0; i < ELEMENTSOF(ctl); i++) {
                char s[64];

                snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: h\r\nX: a%cb\r\n\r\n", ctl[i]);
                assert_rejected(s, 400);
        }
        assert_rejected_lit("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 400);
        assert_rejected_lit("GET / HTTP/1.1\r\nHost: h\0\r\n\r\n", 400);
        assert_accepted("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\x80\xff\r\n\r\n");
}

static void test_parse_rejects_whitespace_before_colon(_unused_ void **state) {
        assert_rejected("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\n", 400);
}

static void test_parse_rejects_invalid_header_names(_unused_ void **state) {
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nX\x01: v\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nX y: v\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400);
        assert_rejected("GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: v\r\n\r\n", 400);
}

/* Builds a request with n headers (Host included) into buf. */
static size_t build_request_with_headers(char *buf, size_t size, size_t n) {
        size_t off = 0;

        off += snprintf(buf + off, size - off, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (size_t i = 1; i < n; i++)
                off += snprintf(buf + off, size - off, "X-%zu: %zu\r\n", i, i);
        off += snprintf(buf + off, size - off, "\r\n");
        assert_true(off < size);
        return off;
}

static void test_parse_accepts_max_headers(_unused_ void **state) {
        char buf[4096];
        size_t len = build_request_with_headers(buf, sizeof(buf), HTTP_MAX_HEADERS);
        HttpRequest req;

        assert_int_equal(http_request_parse(buf, len, &req), len);
        assert_int_equal(req.n_headers, HTTP_MAX_HEADERS);
        assert_span_equal(req.headers[HTTP_MAX_HEADERS - 1].name,
                          req.headers[HTTP_MAX_HEADERS - 1].name_len, "X-99");
}

static void test_parse_rejects_too_many_headers_with_431(_unused_ void **state) {
        char buf[4096];
        size_t len = build_request_with_headers(buf, sizeof(buf), HTTP_MAX_HEADERS + 1);

        assert_rejected_n(buf, len, 431);
}

static void test_header_lookup_is_case_insensitive(_unused_ void **state) {
        static const char s[] = "GET / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n"
                                "X-A: 1\r\nx-a: 2\r\n\r\n";
        const HttpHeader *h;
        HttpRequest req;

        assert_int_equal(parse(s, &req), strlen(s));
        h = http_request_header(&req, "content-type");
        assert_non_null(h);
        assert_span_equal(h->value, h->value_len, "text/plain");
        h = http_request_header(&req, "X-A");
        assert_non_null(h);
        assert_span_equal(h->value, h->value_len, "1");
        assert_null(http_request_header(&req, "Content"));
        assert_null(http_request_header(&req, "Content-Type-X"));
        assert_null(http_request_header(&req, "Cookie"));
}

/* Chunked decoding. */

static const char body[] = "5\r\nhello\r\n6;name=val;q=\"a b\"\r\n world\r\n"
                           "10\r\n, and 16 bytes!!\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\n";
static const char body_decoded[] = "hello world, and 16 bytes!!";

/* Decodes in[0..len) the way a connection does: bytes arrive in pieces of the sizes given
 * (cycled), the decoder may leave some unconsumed, and those are kept for the next call.
 * With in_place the output overwrites the pending input. out_room bounds each call's output.
 * Returns the decoder's final answer; *ret_used is how many input bytes it consumed. */
static int decode_pieces(const char *in, size_t len, const size_t *pieces, size_t n_pieces,
                         size_t out_room, bool in_place, char *out, size_t *ret_out_len,
                         size_t *ret_used) {
        HttpChunked c = {};
        char *pending = malloc(len + 1);
        size_t n_pending = 0, fed = 0, used = 0, out_len = 0;
        int r = 0;

        assert_non_null(pending);
        for (size_t k = 0; r == 0; k++) {
                size_t piece = MIN(pieces[k % n_pieces], len - fed);
                size_t in_used, produced;
                char *dst, scratch[256];

                memcpy(pending + n_pending, in + fed, piece);
                n_pending += piece;
                fed += piece;

                dst = in_place ? pending : scratch;
                r = http_chunked_decode(&c, pending, n_pending, &in_used, dst,
                                        MIN(in_place ? n_pending : sizeof(scratch), out_room),
                                        &produced);
                assert_true(in_used <= n_pending);
                memcpy(out + out_len, dst, produced);
                out_len += produced;
                used += in_used;
                memmove(pending, pending + in_used, n_pending - in_used);
                n_pending -= in_used;

                /* No progress possible: all input given and nothing consumed. */
                if (r == 0 && fed == len && in_used == 0 && produced == 0)
                        break;
        }
        free(pending);
        *ret_out_len = out_len;
        *ret_used = used;
        return r;
}

static void test_chunked_decodes_whole_body(_unused_ void **state) {
        char in[256], out[256];
        size_t used, out_len;
        HttpChunked c = {};

        /* The bytes after the body belong to the next request and must be left alone. */
        snprintf(in, sizeof(in), "%sGET /", body);
        assert_int_equal(http_chunked_decode(&c, in, strlen(in), &used, out, sizeof(out), &out_len),
                         1);
        assert_int_equal(used, strlen(body));
        assert_span_equal(out, out_len, body_decoded);

        /* Once done it stays done and consumes nothing more. */
        assert_int_equal(http_chunked_decode(&c, in + used, 5, &used, out, sizeof(out), &out_len),
                         1);
        assert_int_equal(used, 0);
        assert_int_equal(out_len, 0);
}

static void test_chunked_decodes_in_place(_unused_ void **state) {
        char buf[256];
        size_t used, out_len, len = strlen(body);
        HttpChunked c = {};

        memcpy(buf, body, len);
        assert_int_equal(http_chunked_decode(&c, buf, len, &used, buf, len, &out_len), 1);
        assert_int_equal(used, len);
        assert_span_equal(buf, out_len, body_decoded);
}

static void test_chunked_decodes_split_at_every_position(_unused_ void **state) {
        size_t len = strlen(body);

        for (size_t a = 0; a <= len; a++)
                for (size_t b = a; b <= len; b++)
                        for (int in_place = 0; in_place <= 1; in_place++) {
                                size_t pieces[3] = { a, b - a, len - b };
                                char out[256];
                                size_t out_len, used;

                                /* A zero-length piece is a call with no new input. */
                                assert_int_equal(decode_pieces(body, len, pieces, 3, SIZE_MAX,
                                                               in_place, out, &out_len, &used),
                                                 1);
                                assert_int_equal(used, len);
                                assert_span_equal(out, out_len, body_decoded);
                        }
}

static void test_chunked_decodes_byte_by_byte_with_tiny_output(_unused_ void **state) {
        static const size_t one = 1, three = 3;
        size_t len = strlen(body), out_len, used;
        char out[256];

        for (size_t room = 0; room <= 4; room++) {
                /* With no room at all the decoder must stop at the first data byte. */
                int expect = room == 0 ? 0 : 1;

                assert_int_equal(decode_pieces(body, len, &one, 1, room, false, out, &out_len,
                                               &used), expect);
                if (expect == 1) {
                        assert_span_equal(out, out_len, body_decoded);
                        assert_int_equal(used, len);
                } else {
                        assert_int_equal(out_len, 0);
                        assert_int_equal(used, strlen("5\r\n"));
                }
                assert_int_equal(decode_pieces(body, len, &three, 1, room, true, out, &out_len,
                                               &used), expect);
        }
}

static void test_chunked_accepts_hex_sizes_and_extensions(_unused_ void **state) {
        static const char *const bodies[] = {
                "a\r\n0123456789\r\n0\r\n\r\n",
                "A\r\n0123456789\r\n0\r\n\r\n",
                "0000a\r\n0123456789\r\n00\r\n\r\n",
                "5;a=b\r\n01234\r\n5 ; c\r\n56789\r\n0;last\r\n\r\n",
                "5\t;x\r\n01234\r\n5;ext=\"q;uoted\"\r\n56789\r\n0\r\n\r\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                static const size_t all = SIZE_MAX;
                size_t out_len, used;
                char out[64];

                assert_int_equal(decode_pieces(bodies[i], strlen(bodies[i]), &all, 1, SIZE_MAX,
                                               false, out, &out_len, &used), 1);
                assert_span_equal(out, out_len, "0123456789");
                assert_int_equal(used, strlen(bodies[i]));
        }
}

static void test_chunked_consumes_trailers(_unused_ void **state) {
        static const char in[] = "3\r\nabc\r\n0\r\nX-Checksum: 1234\r\nEmpty:\r\n\r\nNEXT";
        size_t used, out_len;
        HttpChunked c = {};
        char out[16];

        assert_int_equal(http_chunked_decode(&c, in, strlen(in), &used, out, sizeof(out), &out_len),
                         1);
        assert_int_equal(used, strlen(in) - 4);
        assert_span_equal(out, out_len, "abc");
}

/* Asserts that body s is refused whole and whatever its split, and that the error sticks. */
static void assert_chunked_rejected(const char *s) {
        size_t len = strlen(s), out_len, used;
        char out[8192];

        /* Piece sizes up to 64 and the whole: enough to split every short body everywhere. */
        for (size_t piece = 1; piece <= len; piece = piece < 64 ? piece + 1 : MAX(len, piece + 1)) {
                assert_int_equal(decode_pieces(s, len, &piece, 1, SIZE_MAX, piece % 2, out,
                                               &out_len, &used), -400);
        }

        HttpChunked c = {};
        assert_int_equal(http_chunked_decode(&c, s, len, &used, out, sizeof(out), &out_len), -400);
        assert_int_equal(http_chunked_decode(&c, "0\r\n\r\n", 5, &used, out, sizeof(out),
                                             &out_len), -400);
}

static void test_chunked_rejects_malformed_bodies(_unused_ void **state) {
        static const char *const bodies[] = {
                "\r\n",                       /* empty size */
                ";ext\r\n",
                "g\r\n",
                "-5\r\n",
                "+5\r\n",
                "0x5\r\n",
                "5 \r\n",                     /* whitespace not followed by ';' */
                " 5\r\n",
                "5\n",                        /* bare LF */
                "5\rX",                       /* bare CR */
                "5\r\nhelloX",                /* missing CRLF after data */
                "5\r\nhello\rX",
                "5\r\nhello\n",
                "5\r\nhello\r\n\r\n",         /* empty size line */
                "5;a\x01\r\n",                /* control character in an extension */
                "5;a\n",
                "0\r\nX: a\n",                /* trailer with bare LF */
                "0\r\n b\r\n\r\n",            /* folded trailer */
                "0\r\n: v\r\n\r\n",           /* empty trailer name */
                "0\r\nX : v\r\n\r\n",
                "0\r\nX\r\n\r\n",
                "0\r\nX: a\x7f\r\n\r\n",
                "0\r\n\rX",
                "0\r\n\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(bodies); i++)
                assert_chunked_rejected(bodies[i]);
}

static void test_chunked_rejects_oversize_chunk(_unused_ void **state) {
        HttpChunked c = {};
        size_t used, out_len;
        char out[16];

        /* 2^62 itself is allowed: the decoder then waits for data. */
        static const char max[] = "4000000000000000\r\n";
        assert_int_equal(http_chunked_decode(&c, max, strlen(max), &used, out, sizeof(out),
                                             &out_len), 0);
        assert_int_equal(used, strlen(max));
        assert_int_equal(c.remaining, UINT64_C(1) << 62);

        assert_chunked_rejected("4000000000000001\r\n");
        assert_chunked_rejected("10000000000000000\r\n");
        assert_chunked_rejected("ffffffffffffffffffff\r\n");
}

static void test_chunked_rejects_overlong_lines(_unused_ void **state) {
        char s[20000];
        size_t used, out_len;
        char out[16];

        /* A size line of exactly 4096 bytes is fine, one more is not. */
        memset(s, 0, sizeof(s));
        s[0] = '1';
        s[1] = ';';
        memset(s + 2, 'x', 4094);
        strcpy(s + 4096, "\r\nA\r\n0\r\n\r\n");
        HttpChunked c = {};
        assert_int_equal(http_chunked_decode(&c, s, strlen(s), &used, out, sizeof(out), &out_len),
                         1);
        assert_span_equal(out, out_len, "A");

        memset(s + 2, 'x', 4095);
        strcpy(s + 4097, "\r\nA\r\n0\r\n\r\n");
        assert_chunked_rejected(s);

        /* The same for one trailer line. */
        memset(s, 0, sizeof(s));
        strcpy(s, "0\r\nX:");
        memset(s + 5, 'v', 4094);
        strcat(s, "\r\n\r\n");
        c = (HttpChunked) {};
        assert_int_equal(http_chunked_decode(&c, s, strlen(s), &used, out, sizeof(out), &out_len),
                         1);
        s[5 + 4094] = 'v';
        strcpy(s + 5 + 4095, "\r\n\r\n");
        assert_chunked_rejected(s);

        /* And for the trailer section as a whole. */
        memset(s, 0, sizeof(s));
        strcpy(s, "0\r\n");
        for (int i = 0; i < 17; i++) { /* 17 * 1002 bytes > 16 KiB */
                size_t off = strlen(s);

                memcpy(s + off, "X:", 2);
                memset(s + off + 2, 'v', 998);
                strcpy(s + off + 1000, "\r\n");
        }
        strcat(s, "\r\n");
        assert_chunked_rejected(s);
}

/* Percent-decoding and status reasons. */

static void test_percent_decode_decodes_escapes(_unused_ void **state) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "", "" },
                { "plain", "plain" },
                { "a%20b", "a b" },
                { "%41%42%43", "ABC" },
                { "%4a%4A", "JJ" },
                { "%e2%82%AC", "\xe2\x82\xac" },
                { "a+b", "a+b" },
                { "%", "%" },
                { "%4", "%4" },
                { "a%4", "a%4" },
                { "%zz", "%zz" },
                { "%4z", "%4z" },
                { "%%41", "%A" },
                { "100%", "100%" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[64], out[64];
                size_t n = strlen(cases[i].in);

                assert_span_equal(out, http_percent_decode(out, cases[i].in, n), cases[i].out);
                /* In place. */
                memcpy(buf, cases[i].in, n);
                assert_span_equal(buf, http_percent_decode(buf, buf, n), cases[i].out);
        }
}

static void test_percent_decode_keeps_nul_bytes(_unused_ void **state) {
        char out[8];

        assert_int_equal(http_percent_decode(out, "a%00b", 5), 3);
        assert_memory_equal(out, "a\0b", 3);
}

static void test_status_reason_names_common_codes(_unused_ void **state) {
        assert_string_equal(http_status_reason(100), "Continue");
        assert_string_equal(http_status_reason(200), "OK");
        assert_string_equal(http_status_reason(204), "No Content");
        assert_string_equal(http_status_reason(301), "Moved Permanently");
        assert_string_equal(http_status_reason(400), "Bad Request");
        assert_string_equal(http_status_reason(404), "Not Found");
        assert_string_equal(http_status_reason(413), "Content Too Large");
        assert_string_equal(http_status_reason(431), "Request Header Fields Too Large");
        assert_string_equal(http_status_reason(500), "Internal Server Error");
        assert_string_equal(http_status_reason(501), "Not Implemented");
        assert_string_equal(http_status_reason(505), "HTTP Version Not Supported");
        assert_string_equal(http_status_reason(299), "Unknown");
        assert_string_equal(http_status_reason(0), "Unknown");
        assert_string_equal(http_status_reason(-400), "Unknown");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_simple_get),
                cmocka_unit_test(test_parse_derives_every_field),
                cmocka_unit_test(test_parse_splits_query_at_first_question_mark),
                cmocka_unit_test(test_parse_accepts_asterisk_and_absolute_form),
                cmocka_unit_test(test_parse_accepts_extension_methods_and_utf8_targets),
                cmocka_unit_test(test_parse_trims_optional_whitespace_around_values),
                cmocka_unit_test(test_parse_needs_more_input_for_partial_head),
                cmocka_unit_test(test_parse_skips_leading_empty_lines),
                cmocka_unit_test(test_parse_returns_head_length_for_pipelined_requests),
                cmocka_unit_test(test_parse_incrementally_gives_same_result),
                cmocka_unit_test(test_parse_reads_content_length),
                cmocka_unit_test(test_parse_accepts_identical_duplicate_content_length),
                cmocka_unit_test(test_parse_rejects_conflicting_content_length),
                cmocka_unit_test(test_parse_rejects_malformed_content_length),
                cmocka_unit_test(test_parse_detects_chunked_transfer_encoding),
                cmocka_unit_test(test_parse_rejects_unsupported_transfer_encoding),
                cmocka_unit_test(test_parse_rejects_transfer_encoding_with_content_length),
                cmocka_unit_test(test_parse_rejects_duplicate_transfer_encoding),
                cmocka_unit_test(test_parse_rejects_transfer_encoding_in_http10),
                cmocka_unit_test(test_parse_derives_keep_alive_from_version_and_connection),
                cmocka_unit_test(test_parse_combines_connection_headers),
                cmocka_unit_test(test_parse_detects_expect_continue),
                cmocka_unit_test(test_parse_requires_host_in_http11),
                cmocka_unit_test(test_parse_rejects_duplicate_host),
                cmocka_unit_test(test_parse_rejects_unsupported_versions_with_505),
                cmocka_unit_test(test_parse_rejects_malformed_versions_with_400),
                cmocka_unit_test(test_parse_rejects_http09_request_line),
                cmocka_unit_test(test_parse_rejects_malformed_request_lines),
                cmocka_unit_test(test_parse_rejects_bare_cr),
                cmocka_unit_test(test_parse_rejects_bare_lf),
                cmocka_unit_test(test_parse_rejects_obs_fold),
                cmocka_unit_test(test_parse_rejects_control_characters_in_values),
                cmocka_unit_test(test_parse_rejects_whitespace_before_colon),
                cmocka_unit_test(test_parse_rejects_invalid_header_names),
                cmocka_unit_test(test_parse_accepts_max_headers),
                cmocka_unit_test(test_parse_rejects_too_many_headers_with_431),
                cmocka_unit_test(test_header_lookup_is_case_insensitive),
                cmocka_unit_test(test_chunked_decodes_whole_body),
                cmocka_unit_test(test_chunked_decodes_in_place),
                cmocka_unit_test(test_chunked_decodes_split_at_every_position),
                cmocka_unit_test(test_chunked_decodes_byte_by_byte_with_tiny_output),
                cmocka_unit_test(test_chunked_accepts_hex_sizes_and_extensions),
                cmocka_unit_test(test_chunked_consumes_trailers),
                cmocka_unit_test(test_chunked_rejects_malformed_bodies),
                cmocka_unit_test(test_chunked_rejects_oversize_chunk),
                cmocka_unit_test(test_chunked_rejects_overlong_lines),
                cmocka_unit_test(test_percent_decode_decodes_escapes),
                cmocka_unit_test(test_percent_decode_keeps_nul_bytes),
                cmocka_unit_test(test_status_reason_names_common_codes),
        };

        return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
