/* SPDX-License-Identifier: MIT */
/* libFuzzer target for vassal/static.c's parsers: the URL path that becomes a file name under a
 * static root (static_path_normalize), which must never name anything outside that root,
 * checked against its invariants and against a naive decoder; and the Range and date headers,
 * checked against theirs. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../vassal/static.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hex(uint8_t c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Whether a careless server would climb: every %XX decoded, '/' and '\' both separators,
 * and a ".." among the segments. The parser must refuse every such path. */
static bool naive_climbs(const uint8_t *p, size_t n) {
        size_t seg = 0;
        bool dots_only = true;
        for (size_t i = 0; i <= n; i++) {
                uint8_t c = 0;
                bool end = i == n;
                if (!end) {
                        c = p[i];
                        if (c == '%' && i + 2 < n && hex(p[i + 1]) >= 0 && hex(p[i + 2]) >= 0) {
                                c = (uint8_t) (hex(p[i + 1]) << 4 | hex(p[i + 2]));
                                i += 2;
                        }
                }
                if (end || c == '/' || c == '\\') {
                        if (seg == 2 && dots_only)
                                return true;
                        seg = 0;
                        dots_only = true;
                        continue;
                }
                seg++;
                dots_only &= c == '.';
        }
        return false;
}

static void check_path(const uint8_t *data, size_t size) {
        const char *path = (const char *) data;
        char *out = malloc(size + 1); /* exactly what the contract says is enough */
        CHECK(out);
        int r = static_path_normalize(path, size, out, size + 1);
        CHECK(r == 0 || r == -EINVAL || r == -EPERM);
        if (naive_climbs(data, size))
                CHECK(r < 0);
        if (r == 0) {
                size_t len = strlen(out);
                CHECK(len <= size);
                CHECK(len == 0 || out[0] != '/');
                CHECK(!strchr(out, '\\'));
                /* Every segment a plain name: never empty, ".", or "..". */
                for (const char *s = out; len > 0;) {
                        size_t n = strcspn(s, "/");
                        CHECK(n > 0);
                        CHECK(!(n == 1 && s[0] == '.'));
                        CHECK(!(n == 2 && s[0] == '.' && s[1] == '.'));
                        if (!s[n])
                                break;
                        s += n + 1;
                }
        }
        /* A smaller buffer: the same answer, or too long; never a write past it (ASan). */
        size_t small = size > 0 ? data[0] % (size + 1) : 0;
        char *out2 = malloc(small ? small : 1);
        CHECK(out2);
        int r2 = static_path_normalize(path, size, out2, small);
        CHECK(r2 == r || r2 == -ENAMETOOLONG);
        if (r2 == 0)
                CHECK(strcmp(out, out2) == 0);
        free(out2);
        free(out);
}

static void check_range(const uint8_t *data, size_t size) {
        uint64_t file_size = 0, offset = 0, length = 0;
        for (size_t i = 0; i < size && i < 3; i++)
                file_size = file_size << 8 | data[i];
        int r = static_parse_range((const char *) data, size, file_size, &offset, &length);
        CHECK(r >= -1 && r <= 1);
        if (r == 1) {
                CHECK(length >= 1);
                CHECK(offset < file_size);
                CHECK(length <= file_size - offset);
        }
}

static void check_date(const uint8_t *data, size_t size) {
        time_t t;
        char buf[40];
        if (static_parse_date((const char *) data, size, &t) == 0) {
                /* What we print, we read back as the same second. */
                time_t back;
                static_format_date(t, buf, sizeof(buf));
                CHECK(static_parse_date(buf, strlen(buf), &back) == 0);
                CHECK(back == t);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_path(data, size);
        check_range(data, size);
        check_date(data, size);
        return 0;
}
