/* SPDX-License-Identifier: MIT */
#pragma once

/* The history part of emperor-web's JSON API (server.c serves the rest), read from the stats
 * store over a read-only connection of its own (query.h):
 *
 *   GET /api/vassals/NAME/history?since=1h&every=1m
 *       {"vassal": NAME, "since": S, "until": U, "every": E, "samples": [{ts, time, rps, ...}]}
 *   GET /api/vassals/NAME/events?since=24h
 *   GET /api/events?since=24h[&vassal=NAME]
 *       {"events": [{ts_ms, time, vassal, kind, detail}]}
 *
 * since: a span back from now (90s, 15m, 1h, 30d) or a time (2026-11-30T10:00, local; with
 * "Z", UTC); default 1h for history, 24h for events. every: default from the span (about 120
 * rows). Errors are JSON too: {"error": "..."} with 400 (bad parameters), 404 (unknown vassal)
 * or 503 (the store cannot be read). */

#include <stddef.h>

#include <cJSON.h>

typedef struct WebApi WebApi;

WebApi *webapi_new(const char *db_path);
WebApi *webapi_free(WebApi *a);
/* Opens the store now (emperor-web does, before it drops its privileges: the store is not
 * world-readable). Returns 0 or -errno with the reason in error. */
int webapi_open(WebApi *a, char *error, size_t error_size);
/* Whether a read failed and the connection was closed: reopening needs the privileges
 * emperor-web gave up, so it exits and the emperor starts a new one. */
bool webapi_lost(const WebApi *a);

/* Answers path (percent-decoded) with query (raw, after '?') when it is one of the above:
 * returns true with *ret_status and *ret_body (NULL on OOM) set, else false. */
bool webapi_route(WebApi *a, const char *path, const char *query, size_t query_len,
                  int *ret_status, cJSON **ret_body);
