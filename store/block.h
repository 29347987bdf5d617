/* SPDX-License-Identifier: MIT */
#pragma once

/* A block: a run of one vassal's samples at one resolution, packed into one BLOB of the stats
 * store (store.h). Column by column, each value as the difference from the previous one
 * (gauges) or the difference of those differences (counters and the timestamps), zigzagged
 * into a varint, and repeats run-length coded. A minute of an idle vassal packs into about 40
 * bytes, a minute of a busy one into 5 to 7 bytes a sample; SQLite's row per sample took 60.
 *
 * Format (version 1), all varints LEB128 (7 bits a byte, least significant first, at most
 * 10 bytes):
 *   byte 1 (version), varint n (1..BLOCK_MAX_SAMPLES),
 *   then 1 + BLOCK_FIELDS columns (ts first, then enum BlockField order), each n values as
 *   tokens: varint T; T even: one value, u = T >> 1; T odd: a run, T >> 1 (>= 2) times the
 *   value u of the varint that follows. u = 0: NULL (ts may not be); else zigzag(d) + 1 where
 *   d is the difference from the column's previous non-NULL value (0 before the first), or for
 *   order-2 columns that difference minus the previous one.
 * Values are integers in [0, BLOCK_VALUE_MAX]; the encoder refuses others. The decoder takes
 * any bytes: a malformed block is -EBADMSG, never a crash (tests/fuzz/fuzz-block.c). */

#include <stddef.h>
#include <stdint.h>

enum BlockField {
        BF_REQUESTS,     /* cumulative count */
        BF_ERRORS,       /* cumulative count */
        BF_RPS,          /* 0.1 requests/s */
        BF_AVG_RT,       /* 10 µs */
        BF_P99_RT,       /* 10 µs */
        BF_RSS,          /* KiB */
        BF_CPU,          /* 0.1 % of one core */
        BF_BUSY,         /* 0.1 worker (rollups average it) */
        BF_TOTAL,        /* workers */
        BF_LISTEN_QUEUE, /* connections */
        BF_RESPAWNS,     /* cumulative count */
        BLOCK_FIELDS,
};

/* The fields' units as multipliers of the store's doubles (store.h: ms, bytes, percent). */
#define BLOCK_SCALE_RPS 10.0
#define BLOCK_SCALE_RT 100.0 /* per ms */
#define BLOCK_SCALE_RSS (1.0 / 1024)
#define BLOCK_SCALE_CPU 10.0
#define BLOCK_SCALE_BUSY 10.0

#define BLOCK_NULL INT64_MIN
#define BLOCK_VALUE_MAX ((INT64_C(1) << 60) - 1)
#define BLOCK_MAX_SAMPLES 256
#define BLOCK_VERSION 1
/* The most bytes an encoded block of n samples takes. */
#define BLOCK_MAX_BYTES(n) (2 + 10 + (size_t) (n) * (1 + BLOCK_FIELDS) * 10)

typedef struct BlockSample {
        int64_t ts; /* unix s */
        int64_t f[BLOCK_FIELDS];
} BlockSample;

/* Encodes n (1..BLOCK_MAX_SAMPLES) samples into out (BLOCK_MAX_BYTES(n) is always enough).
 * Returns the length, or -EINVAL for a bad n, a ts out of range or NULL, or a value outside
 * [0, BLOCK_VALUE_MAX] that is not BLOCK_NULL; -ENOBUFS when size is too small. */
long block_encode(const BlockSample *s, size_t n, uint8_t *out, size_t size);

/* Decodes a block into out (room for max samples). Returns the number of samples, or
 * -EBADMSG for anything malformed (truncated, trailing bytes, bad version, overflow, a NULL
 * ts), -ENOBUFS when it holds more than max. */
long block_decode(const uint8_t *in, size_t len, BlockSample *out, size_t max);

/* A value scaled into a field's integer unit: v * scale rounded, clamped to
 * [0, BLOCK_VALUE_MAX]; NaN → BLOCK_NULL. */
int64_t block_value(double v, double scale);
/* Back: BLOCK_NULL → NaN. */
double block_real(int64_t v, double scale);
