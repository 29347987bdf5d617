/* SPDX-License-Identifier: MIT */
/* duration_parse(): the one parser of spans of time (emperor's --retain-*, emperorctl's
 * --since and --every, the API's since= and every=). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "duration.h"
#include "macro.h"

static void test_units(void **state) {
        static const struct {
                const char *s;
                int64_t seconds;
        } good[] = {
                { "90", 90 },         { "90s", 90 },           { "15m", 900 },
                { "15min", 900 },     { "24h", 86400 },        { "30d", 30 * 86400 },
                { "2w", 14 * 86400 }, { "1", 1 },              { "007s", 7 },
                { "36500d", 36500 * 86400LL },
        };
        (void) state;
        for (size_t k = 0; k < ELEMENTSOF(good); k++) {
                int64_t d = -1;
                if (duration_parse(good[k].s, &d) != 0 || d != good[k].seconds)
                        fail_msg("'%s': got %lld, expected %lld", good[k].s, (long long) d,
                                 (long long) good[k].seconds);
        }
}

static void test_refusals(void **state) {
        static const char *const bad[] = {
                "", "0", "0s", "-1d", "+1d", " 1d", "1d ", "1y", "1 d", "d", "s", "1.5h",
                "1dd", "1S", "0x10", "99999999999999999999", "5300w", "36700d",
        };
        (void) state;
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                int64_t d = 42;
                if (duration_parse(bad[k], &d) != -EINVAL || d != 42)
                        fail_msg("'%s' accepted (%lld)", bad[k], (long long) d);
        }
        assert_int_equal(duration_parse(NULL, &(int64_t){ 0 }), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_units),
                cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
