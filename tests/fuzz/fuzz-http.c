/* SPDX-License-Identifier: MIT */
/* libFuzzer target for lib/http.c: the request-head parser, checked against its own invariants
 * and against itself on a prefix of the input, and the chunked decoder, fed the same body once
 * whole and once in random pieces with random output room, in place; both runs must agree. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The span [p, p + n) lies inside [lo, hi). */
static bool span_inside(const char *p, size_t n, const char *lo, const char *hi) {
        return p && p >= lo && p <= hi && n <= (size_t) (hi - p);
}

static void check_request(const char *buf, size_t len, const HttpRequest *req, int r) {
        const char *head_end = buf + r;

        CHECK((size_t) r <= len);
        CHECK(req->error == NULL);
        CHECK(req->version_minor == 0 || req->version_minor == 1);
        CHECK(req->method_len > 0 && span_inside(req->method, req->method_len, buf, head_end));
        CHECK(req->target_len > 0 && span_inside(req->target, req->target_len, buf, head_end));
        CHECK(req->path == req->target && req->path_len <= req->target_len);
        CHECK(span_inside(req->query, req->query_len, req->target, req->target + req->target_len));
        CHECK(req->n_headers <= HTTP_MAX_HEADERS);
        CHECK(req->content_length >= -1 && req->content_length <= INT64_C(1) << 62);
        CHECK(!(req->chunked && req->content_length >= 0));
        CHECK(!(req->chunked && req->version_minor == 0));
        CHECK(!(req->expect_continue && req->version_minor == 0));

        for (size_t i = 0; i < req->n_headers; i++) {
                const HttpHeader *h = &req->headers[i];
                char name[256];

                CHECK(h->name_len > 0 && span_inside(h->name, h->name_len, buf, head_end));
                CHECK(span_inside(h->value, h->value_len, buf, head_end));
                CHECK(memchr(h->value, '\r', h->value_len) == NULL);
                CHECK(memchr(h->value, '\n', h->value_len) == NULL);
                CHECK(memchr(h->value, '\0', h->value_len) == NULL);
                if (h->value_len > 0) {
                        CHECK(h->value[0] != ' ' && h->value[0] != '\t');
                        CHECK(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
                }

                /* Lookup finds a header of the same name, the first one. */
                if (h->name_len < sizeof(name)) {
                        const HttpHeader *found;

                        memcpy(name, h->name, h->name_len);
                        name[h->name_len] = 0;
                        found = http_request_header(req, name);
                        CHECK(found && found <= h && found->name_len == h->name_len);
                }
        }
}

/* Parses a heap copy of exactly n bytes, so ASan sees any read past what was given. */
static int parse_copy(const uint8_t *data, size_t n, HttpRequest *req) {
        char *copy = malloc(n ?: 1);
        int r;

        CHECK(copy);
        memcpy(copy, data, n);
        r = http_request_parse(copy, n, req);
        free(copy);
        return r;
}

/* A parse of the prefix data[0..n) must agree with the parse of the whole (full). */
static void check_prefix(const uint8_t *data, size_t n, int full) {
        static HttpRequest req;
        int r = parse_copy(data, n, &req);

        if (full > 0)
                CHECK(r == (n < (size_t) full ? 0 : full));
        else
                CHECK(r == 0 || r == full);
}

/* Percent-decoding the path gives the same bytes in place and out of place, never more. */
static void check_percent_decode(const char *s, size_t n) {
        char *a = malloc(n ?: 1), *b = malloc(n ?: 1);
        size_t la, lb;

        CHECK(a && b);
        la = http_percent_decode(a, s, n);
        memcpy(b, s, n);
        lb = http_percent_decode(b, b, n);
        CHECK(la <= n && la == lb && memcmp(a, b, la) == 0);
        if (!memchr(s, '%', n))
                CHECK(la == n && memcmp(a, s, n) == 0);
        free(a);
        free(b);
}

static uint64_t rng_next(uint64_t *s) {
        /* xorshift64: deterministic per input, so findings reproduce. */
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

static void fuzz_chunked(const uint8_t *body, size_t len) {
        HttpChunked whole = {}, c = {};
        size_t whole_used, whole_out_len, used = 0, out_len = 0, fed = 0, n_pending = 0;
        char *whole_out = malloc(len ?: 1), *out = malloc(len ?: 1), *pending = malloc(len ?: 1);
        uint64_t seed = 0x9e3779b97f4a7c15ULL ^ len;
        int whole_r, r = 0;

        CHECK(whole_out && out && pending);
        for (size_t i = 0; i < len && i < 64; i++)
                seed = (seed ^ body[i]) * 0x100000001b3ULL;
        if (seed == 0)
                seed = 1;

        whole_r = http_chunked_decode(&whole, (const char *) body, len, &whole_used, whole_out, len,
                                      &whole_out_len);
        CHECK(whole_r == 1 || whole_r == 0 || whole_r == -400);
        CHECK(whole_used <= len && whole_out_len <= whole_used);
        if (whole_r == 0)
                CHECK(whole_used == len);

        /* Again in pieces, in place, with little output room each time: a connection's view. */
        for (;;) {
                size_t piece = rng_next(&seed) % 17, room = 1 + rng_next(&seed) % 9;
                size_t in_used, produced;

                piece = piece < len - fed ? piece : len - fed;
                memcpy(pending + n_pending, body + fed, piece);
                n_pending += piece;
                fed += piece;

                room = room < n_pending ? room : n_pending;
                r = http_chunked_decode(&c, pending, n_pending, &in_used, pending, room, &produced);
                CHECK(in_used <= n_pending && produced <= room && produced <= in_used);
                memcpy(out + out_len, pending, produced);
                out_len += produced;
                used += in_used;
                memmove(pending, pending + in_used, n_pending - in_used);
                n_pending -= in_used;

                if (r != 0 || (fed == len && in_used == 0))
                        break;
        }

        CHECK(r == whole_r);
        CHECK(used == whole_used);
        /* A finished or failed decoder keeps its answer and takes nothing more. */
        if (r != 0) {
                size_t in_used, produced;

                CHECK(http_chunked_decode(&c, "0\r\n\r\n", 5, &in_used, out, 0, &produced) == r);
                CHECK(in_used == 0 && produced == 0);
        }
        CHECK(out_len == whole_out_len && memcmp(out, whole_out, out_len) == 0);

        free(whole_out);
        free(out);
        free(pending);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static HttpRequest req;
        char *buf = malloc(size ?: 1);
        int r;

        CHECK(buf);
        memcpy(buf, data, size);
        r = http_request_parse(buf, size, &req);
        if (r > 0) {
                check_request(buf, size, &req, r);
                check_percent_decode(req.target, req.target_len);
        }
        else if (r < 0)
                CHECK(req.error && (r == -400 || r == -431 || r == -501 || r == -505));
        else
                CHECK(req.error == NULL);

        if (size > 0) {
                check_prefix(data, size / 2, r);
                check_prefix(data, data[0] % size, r);
                check_prefix(data, size - 1, r);
        }

        /* The body after a chunked head, else the whole input as a body of its own. */
        if (r > 0 && req.chunked)
                fuzz_chunked(data + r, size - r);
        else
                fuzz_chunked(data, size);

        free(buf);
        return 0;
}
