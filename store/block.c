/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "block.h"

/* Which columns are counters (order 2: their differences change slowly). Column 0 is ts. */
static const bool order2[1 + BLOCK_FIELDS] = {
        [0] = true,
        [1 + BF_REQUESTS] = true,
        [1 + BF_ERRORS] = true,
        [1 + BF_RESPAWNS] = true,
};

static int64_t column_value(const BlockSample *s, size_t col) {
        return col == 0 ? s->ts : s->f[col - 1];
}

static uint64_t zigzag(int64_t d) {
        return ((uint64_t) d << 1) ^ (uint64_t) (d >> 63);
}

static int64_t unzigzag(uint64_t u) {
        return (int64_t) (u >> 1) ^ -(int64_t) (u & 1);
}

typedef struct Writer {
        uint8_t *p, *end;
        bool full;
} Writer;

static void put_varint(Writer *w, uint64_t v) {
        do {
                if (w->p == w->end) {
                        w->full = true;
                        return;
                }
                uint8_t byte = v & 0x7f;
                v >>= 7;
                *w->p++ = byte | (v ? 0x80 : 0);
        } while (v);
}

/* A token for a run of count equal codes u. */
static void put_run(Writer *w, uint64_t u, size_t count) {
        if (count == 0)
                return;
        if (count == 1) {
                put_varint(w, u << 1);
                return;
        }
        put_varint(w, ((uint64_t) count << 1) | 1);
        put_varint(w, u);
}

long block_encode(const BlockSample *s, size_t n, uint8_t *out, size_t size) {
        Writer w = { out, out + size, false };

        if (n == 0 || n > BLOCK_MAX_SAMPLES)
                return -EINVAL;
        for (size_t k = 0; k < n; k++)
                for (size_t col = 0; col <= BLOCK_FIELDS; col++) {
                        int64_t v = column_value(&s[k], col);
                        if (v == BLOCK_NULL && col > 0)
                                continue;
                        if (v < 0 || v > BLOCK_VALUE_MAX)
                                return -EINVAL;
                }
        put_varint(&w, BLOCK_VERSION);
        put_varint(&w, n);
        for (size_t col = 0; col <= BLOCK_FIELDS; col++) {
                int64_t prev = 0, prev_d = 0;
                uint64_t run_u = 0;
                size_t run = 0;
                for (size_t k = 0; k < n; k++) {
                        int64_t v = column_value(&s[k], col);
                        uint64_t u = 0;
                        if (v != BLOCK_NULL) {
                                /* |v - prev| < 2^60 and |d - prev_d| < 2^61: no overflow, and
                                 * zigzag + 1 < 2^63, so the token's shift keeps every bit. */
                                int64_t d = v - prev;
                                u = zigzag(order2[col] ? d - prev_d : d) + 1;
                                prev = v;
                                prev_d = d;
                        }
                        if (run > 0 && u == run_u) {
                                run++;
                                continue;
                        }
                        put_run(&w, run_u, run);
                        run_u = u;
                        run = 1;
                }
                put_run(&w, run_u, run);
        }
        if (w.full)
                return -ENOBUFS;
        return (long) (w.p - out);
}

typedef struct Reader {
        const uint8_t *p, *end;
} Reader;

static int get_varint(Reader *r, uint64_t *ret) {
        uint64_t v = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
                if (r->p == r->end)
                        return -EBADMSG;
                uint8_t byte = *r->p++;
                uint64_t bits = byte & 0x7f;
                /* The 10th byte may carry one bit only. */
                if (shift == 63 && bits > 1)
                        return -EBADMSG;
                v |= bits << shift;
                if (!(byte & 0x80)) {
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

long block_decode(const uint8_t *in, size_t len, BlockSample *out, size_t max) {
        Reader r = { in, in + len };
        uint64_t version, n;

        if (get_varint(&r, &version) < 0 || version != BLOCK_VERSION || get_varint(&r, &n) < 0 ||
            n == 0 || n > BLOCK_MAX_SAMPLES)
                return -EBADMSG;
        if (n > max)
                return -ENOBUFS;
        for (size_t col = 0; col <= BLOCK_FIELDS; col++) {
                int64_t prev = 0, prev_d = 0;
                size_t k = 0;
                while (k < n) {
                        uint64_t t, u, count = 1;
                        if (get_varint(&r, &t) < 0)
                                return -EBADMSG;
                        if (t & 1) {
                                count = t >> 1;
                                if (count < 2 || count > n - k || get_varint(&r, &u) < 0)
                                        return -EBADMSG;
                        } else
                                u = t >> 1;
                        for (; count > 0; count--, k++) {
                                int64_t v = BLOCK_NULL;
                                if (u != 0) {
                                        /* Wrapping arithmetic: a hostile block makes garbage
                                         * values, never undefined behaviour. */
                                        int64_t d = unzigzag(u - 1);
                                        if (order2[col])
                                                d = (int64_t) ((uint64_t) d + (uint64_t) prev_d);
                                        v = (int64_t) ((uint64_t) prev + (uint64_t) d);
                                        if (v < 0 || v > BLOCK_VALUE_MAX)
                                                return -EBADMSG;
                                        prev = v;
                                        prev_d = d;
                                } else if (col == 0)
                                        return -EBADMSG;
                                if (col == 0)
                                        out[k].ts = v;
                                else
                                        out[k].f[col - 1] = v;
                        }
                }
        }
        if (r.p != r.end)
                return -EBADMSG;
        return (long) n;
}

int64_t block_value(double v, double scale) {
        if (isnan(v))
                return BLOCK_NULL;
        v = round(v * scale);
        if (!(v > 0))
                return 0;
        if (v >= (double) BLOCK_VALUE_MAX)
                return BLOCK_VALUE_MAX;
        return (int64_t) v;
}

double block_real(int64_t v, double scale) {
        return v == BLOCK_NULL ? NAN : (double) v / scale;
}
