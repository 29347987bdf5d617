/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"

static uint8_t buf[BLOCK_MAX_BYTES(BLOCK_MAX_SAMPLES)];
static BlockSample out[BLOCK_MAX_SAMPLES];

/* A minute of an idle vassal: everything constant, p99 and cpu unknown. */
static void idle_minute(BlockSample *s) {
        for (int k = 0; k < 60; k++) {
                s[k] = (BlockSample) { .ts = 1767225600 + k };
                s[k].f[BF_REQUESTS] = 1234;
                s[k].f[BF_RSS] = 51200;
                s[k].f[BF_TOTAL] = 2;
                s[k].f[BF_P99_RT] = BLOCK_NULL;
                s[k].f[BF_CPU] = BLOCK_NULL;
        }
}

static long roundtrip(const BlockSample *s, size_t n) {
        long len = block_encode(s, n, buf, sizeof(buf));
        assert_true(len > 0);
        assert_true((size_t) len <= BLOCK_MAX_BYTES(n));
        assert_int_equal(block_decode(buf, (size_t) len, out, BLOCK_MAX_SAMPLES), (long) n);
        assert_memory_equal(s, out, n * sizeof(BlockSample));
        return len;
}

static void test_idle_minute_is_tiny(void **state) {
        BlockSample s[60];
        (void) state;
        idle_minute(s);
        long len = roundtrip(s, 60);
        assert_true(len <= 45);
}

static void test_busy_minute(void **state) {
        BlockSample s[60];
        uint64_t requests = 1000000;
        (void) state;
        srand(7);
        for (int k = 0; k < 60; k++) {
                int rps = 900 + rand() % 200;
                requests += (uint64_t) rps;
                s[k] = (BlockSample) { .ts = 1767225600 + k };
                s[k].f[BF_REQUESTS] = (int64_t) requests;
                s[k].f[BF_ERRORS] = 17 + k / 20;
                s[k].f[BF_RPS] = rps * 100;
                s[k].f[BF_AVG_RT] = 150 + rand() % 40;
                s[k].f[BF_P99_RT] = 900 + rand() % 100;
                s[k].f[BF_RSS] = 80000 + rand() % 8;
                s[k].f[BF_CPU] = 400 + rand() % 50;
                s[k].f[BF_BUSY] = (rand() % 3) * 1000;
                s[k].f[BF_TOTAL] = 4;
                s[k].f[BF_LISTEN_QUEUE] = 0;
                s[k].f[BF_RESPAWNS] = 3;
        }
        long len = roundtrip(s, 60);
        /* 60 bytes a sample as SQLite rows; here well under 12. */
        assert_true(len < 60 * 12);
}

static void test_nulls_gaps_and_extremes(void **state) {
        BlockSample s[5] = {};
        (void) state;
        for (int k = 0; k < 5; k++) {
                s[k].ts = k == 3 ? 1767225600 + 100 : 1767225600 + k; /* a gap */
                for (int f = 0; f < BLOCK_FIELDS; f++)
                        s[k].f[f] = (k + f) % 3 == 0 ? BLOCK_NULL : k % 2 ? BLOCK_VALUE_MAX : 0;
        }
        roundtrip(s, 5);
        roundtrip(s, 1);
        /* A counter that goes down (a restart) and up again. */
        s[2].f[BF_REQUESTS] = 5;
        roundtrip(s, 5);
}

static void test_encode_refuses_bad_input(void **state) {
        BlockSample s[2] = {};
        (void) state;
        assert_int_equal(block_encode(s, 0, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(block_encode(s, BLOCK_MAX_SAMPLES + 1, buf, sizeof(buf)), -EINVAL);
        s[1].f[BF_RSS] = -1;
        assert_int_equal(block_encode(s, 2, buf, sizeof(buf)), -EINVAL);
        s[1].f[BF_RSS] = BLOCK_VALUE_MAX + 1;
        assert_int_equal(block_encode(s, 2, buf, sizeof(buf)), -EINVAL);
        s[1].f[BF_RSS] = 0;
        s[1].ts = BLOCK_NULL;
        assert_int_equal(block_encode(s, 2, buf, sizeof(buf)), -EINVAL);
        s[1].ts = 5;
        assert_int_equal(block_encode(s, 2, buf, 3), -ENOBUFS);
}

static void test_decode_refuses_malformed(void **state) {
        BlockSample s[60];
        (void) state;
        idle_minute(s);
        long len = block_encode(s, 60, buf, sizeof(buf));
        assert_true(len > 0);
        /* Every truncation, and a byte more. */
        for (long k = 0; k < len; k++)
                assert_int_equal(block_decode(buf, (size_t) k, out, 60), -EBADMSG);
        buf[len] = 0;
        assert_int_equal(block_decode(buf, (size_t) len + 1, out, 60), -EBADMSG);
        /* Room for fewer samples than it holds. */
        assert_int_equal(block_decode(buf, (size_t) len, out, 59), -ENOBUFS);
        /* Another version. */
        buf[0] = 2;
        assert_int_equal(block_decode(buf, (size_t) len, out, 60), -EBADMSG);
        /* n = 0; a run longer than what is left; a NULL ts; an 11-byte varint. */
        const uint8_t zero_n[] = { 1, 0 };
        const uint8_t long_run[] = { 1, 2, 7, 2 };            /* a run of 3 for n = 2 */
        const uint8_t null_ts[] = { 1, 1, 0 };
        const uint8_t overlong[] = { 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
        assert_int_equal(block_decode(zero_n, sizeof(zero_n), out, 60), -EBADMSG);
        assert_int_equal(block_decode(long_run, sizeof(long_run), out, 60), -EBADMSG);
        assert_int_equal(block_decode(null_ts, sizeof(null_ts), out, 60), -EBADMSG);
        assert_int_equal(block_decode(overlong, sizeof(overlong), out, 60), -EBADMSG);
        assert_int_equal(block_decode(NULL, 0, out, 60), -EBADMSG);
}

static void test_value_scaling(void **state) {
        (void) state;
        assert_int_equal(block_value(NAN, 100), BLOCK_NULL);
        assert_int_equal(block_value(12.345, 100), 1235);
        assert_int_equal(block_value(-3, 100), 0);
        assert_int_equal(block_value(1e30, 1), BLOCK_VALUE_MAX);
        assert_true(isnan(block_real(BLOCK_NULL, 100)));
        assert_float_equal(block_real(1235, 100), 12.35, 1e-12);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_idle_minute_is_tiny),
                cmocka_unit_test(test_busy_minute),
                cmocka_unit_test(test_nulls_gaps_and_extremes),
                cmocka_unit_test(test_encode_refuses_bad_input),
                cmocka_unit_test(test_decode_refuses_malformed),
                cmocka_unit_test(test_value_scaling),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
