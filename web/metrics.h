/* SPDX-License-Identifier: MIT */
#pragma once

/* GET /metrics: the fleet in Prometheus text format 0.0.4, from the emperor's status with
 * details (fleet.h): per-vassal counters and gauges with a `vassal` label, the response-time
 * histogram, vassals by state, and the emperor's own memory and uptime (emperor_pid's /proc
 * entries; 0 when it cannot be read). The names and help are those the emperor served itself
 * before the dashboard became its own process. */

#include <cJSON.h>
#include <sys/types.h>

#include "buf.h"

void metrics_render(Buf *b, const cJSON *vassals, pid_t emperor_pid);
