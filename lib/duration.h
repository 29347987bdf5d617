/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* A span of time as people write it on a command line, an URL or an option: a positive whole
 * number with an optional unit, s (the default), m or min, h, d or w ("90", "90s", "15m",
 * "24h", "30d", "2w"). Up to a century. Returns 0 and the seconds, or -EINVAL. */
int duration_parse(const char *s, int64_t *ret_seconds);
