/* SPDX-License-Identifier: MIT */
/* libFuzzer target for vassal/logformat.c: the input is a format (up to the first NUL) and
 * after it the request's bytes (URI, then variables split at NULs). Whatever the format, it
 * compiles or says why; a compiled one renders every request into one line of at most
 * LOGFORMAT_LINE_MAX bytes, ending in its only newline. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "logformat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Request r;
static char line[LOGFORMAT_LINE_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *end = p + size;
        const char *nul = memchr(p, 0, size);
        char *fmt = strndup(p, nul ? (size_t) (nul - p) : size);
        char msg[256];
        LogFormat *f = NULL;

        CHECK(fmt);
        /* The options from the format's length: every combination gets its turn. */
        size_t k = strlen(fmt);
        LogFormatOptions o = {
                .strftime = k & 1,
                .micros = k & 2,
                .x_forwarded_for = k & 4,
                .date_format = k & 8 ? "%Y-%m-%d %H:%M:%S %%" : NULL,
        };
        int rc = logformat_compile(fmt, &o, &f, msg, sizeof(msg));
        CHECK(rc == 0 || rc == -EINVAL);
        CHECK(memchr(msg, 0, sizeof(msg)));
        if (rc < 0) {
                CHECK(msg[0] != 0 && !f);
                free(fmt);
                return 0;
        }

        /* The rest: the URI, then key, value, key, value ... split at NULs. */
        memset(&r, 0, sizeof(r));
        const char *q = nul ? nul + 1 : end;
        const char *field[2 * 16 + 1];
        size_t len[2 * 16 + 1], n = 0;
        while (q < end && n < 2 * 16 + 1) {
                const char *z = memchr(q, 0, (size_t) (end - q));
                const char *e = z ?: end;
                field[n] = q;
                len[n++] = (size_t) (e - q);
                q = z ? z + 1 : end;
        }
        if (n > 0) {
                r.uri = field[0];
                r.uri_len = len[0];
        }
        for (size_t i = 1; i + 1 < n; i += 2)
                r.vars[r.n_vars++] = (RequestVar) { field[i], len[i], field[i + 1], len[i + 1] };
        r.method = "GET";
        r.method_len = 3;
        r.status = (int) (size % 600);
        r.bytes_sent = size * 1000003u;
        r.headers = n > 2 ? (char *) field[2] : NULL;
        r.headers_len = n > 2 ? len[2] : 0;
        LogRequest req = {
                .r = &r,
                .pid = 1,
                .worker_requests = size,
                .total_requests = UINT64_MAX,
                .elapsed_us = (int64_t) size * 7919 - 1000,
                .end_realtime_us = (int64_t) size * 1000003 * 1000,
        };
        LogClock clock = {};
        size_t m = logformat_render(f, &req, &clock, line);
        CHECK(m >= 1 && m <= LOGFORMAT_LINE_MAX);
        CHECK(line[m - 1] == '\n');
        CHECK(!memchr(line, '\n', m - 1));
        logformat_free(f);
        free(fmt);
        return 0;
}
