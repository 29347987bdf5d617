/* SPDX-License-Identifier: MIT */
/* libFuzzer target for store/block.c: any bytes decode to samples or to -EBADMSG, never a
 * crash; what decodes re-encodes to a block that decodes to the same samples. The input is
 * also read as raw samples, whose encoding must decode back to them exactly. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static BlockSample a[BLOCK_MAX_SAMPLES], b[BLOCK_MAX_SAMPLES];
static uint8_t buf[BLOCK_MAX_BYTES(BLOCK_MAX_SAMPLES)];

static void roundtrip(const BlockSample *s, size_t n) {
        long len = block_encode(s, n, buf, sizeof(buf));
        CHECK(len > 0);
        long m = block_decode(buf, (size_t) len, b, BLOCK_MAX_SAMPLES);
        CHECK(m == (long) n);
        CHECK(memcmp(s, b, n * sizeof(BlockSample)) == 0);
        /* Every proper prefix is malformed. */
        CHECK(block_decode(buf, (size_t) len - 1, b, BLOCK_MAX_SAMPLES) == -EBADMSG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        long n = block_decode(data, size, a, BLOCK_MAX_SAMPLES);

        CHECK(n == -EBADMSG || (n >= 1 && n <= BLOCK_MAX_SAMPLES));
        if (n > 0) {
                for (long k = 0; k < n; k++) {
                        CHECK(a[k].ts >= 0 && a[k].ts <= BLOCK_VALUE_MAX);
                        for (int f = 0; f < BLOCK_FIELDS; f++)
                                CHECK(a[k].f[f] == BLOCK_NULL ||
                                      (a[k].f[f] >= 0 && a[k].f[f] <= BLOCK_VALUE_MAX));
                }
                roundtrip(a, (size_t) n);
        }

        /* The bytes as samples: 2 bytes a value, mapped onto a spread of magnitudes. */
        size_t per = (1 + BLOCK_FIELDS) * 2, m = size / per;
        if (m == 0)
                return 0;
        m = m > BLOCK_MAX_SAMPLES ? BLOCK_MAX_SAMPLES : m;
        for (size_t k = 0; k < m; k++) {
                const uint8_t *p = data + k * per;
                for (size_t c = 0; c <= BLOCK_FIELDS; c++) {
                        unsigned raw = (unsigned) p[2 * c] | (unsigned) p[2 * c + 1] << 8;
                        int64_t v = (int64_t) ((uint64_t) (raw & 0x3ff) << ((raw >> 10) * 4 % 51));
                        if (v > BLOCK_VALUE_MAX)
                                v = BLOCK_VALUE_MAX;
                        if (c == 0)
                                a[k].ts = v;
                        else
                                a[k].f[c - 1] = (raw >> 10) == 63 ? BLOCK_NULL : v;
                }
        }
        roundtrip(a, m);
        return 0;
}
