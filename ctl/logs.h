/* SPDX-License-Identifier: MIT */
#pragma once

/* emperorctl logs: the pieces of the command that do not talk to the emperor, for the unit
 * tests (tests/unit/test-ctl-logs.c). Finding the log and following it across rotations is
 * lib/logfollow.h's, shared with the emperor's log tail for the dashboard. */

#include <stdint.h>

#include "logfollow.h"

/* "-n N": a count of lines, digits only. Returns 0 or -EINVAL. */
int logs_parse_count(const char *s, uint64_t *ret);
