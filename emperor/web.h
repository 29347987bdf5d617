/* SPDX-License-Identifier: MIT */
#pragma once

/* The emperor's HTTP listener (--http ADDR, default 127.0.0.1:9090; "none" turns it off):
 *   GET /metrics            Prometheus text format: per-vassal counters and gauges with a
 *                           `vassal` label, and the emperor's own
 *   GET /api/vassals        the fleet, as `emperorctl status --json` lists it
 *   GET /api/vassals/NAME   one vassal in detail
 * One request per connection, bounded in size, clients and time. */

typedef struct Manager Manager;
typedef struct Web Web;

/* A listener that cannot bind is logged and skipped (*ret NULL, returns 0): the fleet runs
 * without its dashboard rather than not at all. */
int web_new(Manager *m, const char *address, Web **ret);
void web_free(Web *w);
