/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the time arguments of emperorctl stats|events and the API
 * (store/query.c): query_parse_since() and duration_parse() (lib/) take any string, accept
 * only what they document, and what they accept is in range. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "duration.h"
#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char s[128];
        int64_t t = 0, d = 0;

        if (size >= sizeof(s))
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        int r = duration_parse(s, &d);
        CHECK(r == 0 || r == -EINVAL);
        if (r == 0) {
                CHECK(d > 0 && d <= (int64_t) 101 * 366 * 86400);
                CHECK(query_parse_since(s, 2000000000, &t) == 0 && t == 2000000000 - d);
        }
        r = query_parse_since(s, 2000000000, &t);
        CHECK(r == 0 || r == -EINVAL);
        CHECK(query_default_every(d) >= 1);
        return 0;
}
