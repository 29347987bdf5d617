/* SPDX-License-Identifier: MIT */
#pragma once

/* A strict HTTP/1.x request-head parser and a chunked-body decoder.
 *
 * The parser is stateless: the caller keeps the bytes received so far in one buffer and calls
 * http_request_parse() again after every read (picohttpparser's model). Nothing is copied:
 * every string in HttpRequest points into the caller's buffer. No globals, no allocation, so
 * the same file links into the vassal, the unit tests and the fuzzer. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 100

typedef struct HttpHeader {
        const char *name;
        size_t name_len;
        const char *value; /* leading and trailing whitespace removed */
        size_t value_len;
} HttpHeader;

typedef struct HttpRequest {
        const char *method;
        size_t method_len;
        const char *target; /* the raw request-target, e.g. "/a%20b?x=1" */
        size_t target_len;
        const char *path; /* target up to '?', still percent-encoded */
        size_t path_len;
        const char *query; /* after '?', without it; empty when none */
        size_t query_len;
        int version_minor; /* 0 or 1: HTTP/1.0 or HTTP/1.1 */

        HttpHeader headers[HTTP_MAX_HEADERS];
        size_t n_headers;

        /* Derived from the headers while parsing. */
        int64_t content_length; /* -1 when there is no Content-Length */
        bool chunked;           /* Transfer-Encoding: chunked */
        bool keep_alive;        /* HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive */
        bool expect_continue;   /* Expect: 100-continue */

        const char *error; /* static text saying why the request was refused, for the log */
} HttpRequest;

/* Parses the request head in buf[0..len).
 * Returns the length of the head including its final CRLFCRLF (> 0) once it is complete;
 * 0 when more bytes are needed; or the negative HTTP status to answer with when the request is
 * invalid: -400 (malformed: bad request line, bare CR, obs-fold, bad header name, a missing,
 * duplicated, negative or non-numeric Content-Length, Content-Length together with
 * Transfer-Encoding, ...), -431 (more than HTTP_MAX_HEADERS headers), -501 (a Transfer-Encoding
 * other than chunked), -505 (a version other than HTTP/1.0 or 1.1). ret->error says why.
 * A head longer than the caller's buffer is the caller's 431 (this returns 0 for it).
 * A request line alone ("GET /\r\n", HTTP/0.9) is refused with -400. Leading empty lines
 * before the request line are skipped, as RFC 9112 section 2.2 allows; the returned length
 * counts them. Also -400: a bare LF as line end (not tolerated: a proxy in front that does not
 * split there would see different headers), two Host lines, two Transfer-Encoding lines, and
 * Transfer-Encoding in an HTTP/1.0 request (RFC 9112 section 6.1).
 * A prefix of a refused request returns 0 or the same status, never another one.
 * On 0 or an error the fields are partly filled; version_minor is 1 until the request line
 * has been parsed, so an error reply can always be written as "HTTP/1.%d". */
int http_request_parse(const char *buf, size_t len, HttpRequest *ret);

/* Case-insensitive header lookup; NULL when absent. */
const HttpHeader *http_request_header(const HttpRequest *req, const char *name);

/* Incremental decoder of a chunked request body. Zero-initialise it before the body. */
typedef struct HttpChunked {
        int state;
        uint64_t remaining; /* data bytes left in the current chunk */
        size_t line_len;    /* bytes of the current size or trailer line seen so far */
} HttpChunked;

/* Decodes from in[0..in_len) into out[0..out_size). out may equal in (decoding in place,
 * since output never outruns input). Sets *ret_in_used and *ret_out_len.
 * Returns 1 when the body is complete (last chunk and trailers consumed: the bytes after
 * *ret_in_used belong to the next request), 0 when it needs more input or more room, or -400
 * for a malformed body (bad hex, a size over 2^62, a missing CRLF, a chunk-size or trailer
 * line over 4096 bytes, a trailer section over 16384 bytes, bare LF or whitespace after the size
 * other than before ';'). Once it returned 1 or -400 it returns the same again and consumes
 * nothing. Trailer fields are checked for syntax and dropped. */
int http_chunked_decode(HttpChunked *c, const char *in, size_t in_len, size_t *ret_in_used,
                        char *out, size_t out_size, size_t *ret_out_len);

/* The reason phrase of a status code ("Not Found"); "Unknown" for codes it does not know. */
const char *http_status_reason(int status);

/* Decodes %XX escapes from src into dst (dst may equal src; the result is never longer).
 * Returns the decoded length; malformed escapes are copied as they are. '+' stays '+', and
 * "%00" gives a NUL byte: a caller that wants C strings must check for it. */
size_t http_percent_decode(char *dst, const char *src, size_t len);
