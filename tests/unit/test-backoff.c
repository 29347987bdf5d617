/* SPDX-License-Identifier: MIT */
/* backoff_next(): the one restart policy of the emperor, the master and the exec programs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "backoff.h"
#include "macro.h"

#define SEC 1000000ULL

static void test_sequence(void **state) {
        /* A process that dies at once every time: floor, then 2, 4, ... capped at the max. */
        static const uint64_t want[] = { 1 * SEC, 2 * SEC,  4 * SEC,  8 * SEC,
                                         16 * SEC, 32 * SEC, 60 * SEC, 60 * SEC };
        Backoff b = { 0 };
        (void) state;
        for (size_t k = 0; k < ELEMENTSOF(want); k++)
                assert_int_equal(backoff_next(&b, 0), want[k]);
        for (int k = 0; k < 2000; k++)
                assert_int_equal(backoff_next(&b, 5 * SEC), 60 * SEC);
}

static void test_floor(void **state) {
        Backoff b = { 0 };
        (void) state;
        /* The first death waits out the rest of the second since the start. */
        assert_int_equal(backoff_next(&b, 300000), 700000);
        b = (Backoff) { 0 };
        assert_int_equal(backoff_next(&b, 5 * SEC), 0);
        /* ...but the second death in a row, young, waits 2 s even after 5 s of life. */
        assert_int_equal(backoff_next(&b, 5 * SEC), 2 * SEC);
}

static void test_stable_resets(void **state) {
        Backoff b = { 0 };
        (void) state;
        for (int k = 0; k < 10; k++)
                (void) backoff_next(&b, 0);
        /* A minute of life is a stable run: the next start is immediate. */
        assert_int_equal(backoff_next(&b, BACKOFF_STABLE_USEC), 0);
        assert_int_equal(backoff_next(&b, 0), 2 * SEC);
        backoff_reset(&b);
        assert_int_equal(backoff_next(&b, 0), 1 * SEC);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sequence),
                cmocka_unit_test(test_floor),
                cmocka_unit_test(test_stable_resets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
