/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the cron lines (vassal/cron.c): any bytes as a `cron` value and as a
 * `cron2` value. Must never crash or leak; a line accepted has a command that is not empty
 * and a schedule whose next time exists, comes strictly after the time asked about, falls on a
 * whole minute and matches (cron_matches); a line refused says why. The times asked about come
 * from the input too, in UTC (a fixed zone, so a finding reproduces). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "cron.h"

static void check_entry(int r, const CronEntry *e, const char *why, time_t after) {
        if (r == -ENOMEM)
                return;
        if (r < 0) {
                CHECK(r == -EINVAL && why && why[0]);
                return;
        }
        CHECK(e->command && e->command[0]);
        time_t next;
        CHECK(cron_next(&e->when, after, &next) == 0);
        CHECK(next > after && next % 60 == 0);
        struct tm tm;
        CHECK(gmtime_r(&next, &tm));
        CHECK(cron_matches(&e->when, &tm));
        time_t again;
        CHECK(cron_next(&e->when, next, &again) == 0 && again > next);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int tz_set;
        if (!tz_set) {
                setenv("TZ", "UTC", 1);
                tzset();
                tz_set = 1;
        }
        /* The first 4 bytes pick a time between 1970 and 2106 (fuzzed), the rest is the line. */
        uint32_t seed = 0;
        if (size >= 4) {
                memcpy(&seed, data, 4);
                data += 4;
                size -= 4;
        }
        char *line = strndup((const char *) data, size);
        if (!line)
                return 0;
        time_t after = (time_t) seed;
        CronEntry e = {};
        const char *why = NULL;
        int r = cron_parse(line, size % 2 == 0, &e, &why);
        check_entry(r, &e, why, after);
        if (r == 0)
                cron_entry_done(&e);
        why = NULL;
        r = cron_parse2(line, &e, &why);
        check_entry(r, &e, why, after);
        if (r == 0)
                cron_entry_done(&e);
        free(line);
        return 0;
}
