/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "duration.h"
#include "macro.h"

#define DURATION_MAX ((int64_t) 100 * 366 * 86400) /* a century is enough for any option */

int duration_parse(const char *s, int64_t *ret_seconds) {
        static const struct {
                const char *suffix;
                int64_t seconds;
        } units[] = {
                { "", 1 },       { "s", 1 },     { "m", 60 },         { "min", 60 },
                { "h", 3600 },   { "d", 86400 }, { "w", 7 * 86400 },
        };
        char *end;
        long long v;

        /* strtoll takes leading blanks and signs; a duration has neither. */
        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || v <= 0)
                return -EINVAL;
        for (size_t k = 0; k < ELEMENTSOF(units); k++) {
                if (!streq(end, units[k].suffix))
                        continue;
                if (v > DURATION_MAX / units[k].seconds)
                        return -EINVAL;
                *ret_seconds = v * units[k].seconds;
                return 0;
        }
        return -EINVAL;
}
