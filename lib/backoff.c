/* SPDX-License-Identifier: MIT */
#include "backoff.h"

uint64_t backoff_next(Backoff *b, uint64_t lived_usec) {
        if (lived_usec >= BACKOFF_STABLE_USEC)
                b->failures = 0;
        uint64_t delay;
        if (b->failures == 0)
                delay = lived_usec >= BACKOFF_FLOOR_USEC ? 0 : BACKOFF_FLOOR_USEC - lived_usec;
        else {
                unsigned shift = b->failures < 6 ? b->failures : 6;
                delay = BACKOFF_FLOOR_USEC << shift;
                if (delay > BACKOFF_MAX_USEC)
                        delay = BACKOFF_MAX_USEC;
        }
        if (b->failures < 1000)
                b->failures++;
        return delay;
}
