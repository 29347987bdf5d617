/* SPDX-License-Identifier: MIT */
#pragma once

/* emperor-web's one connection to the emperor's control socket (lib/proto.h), and the fleet
 * as the last answer to `status` with details showed it.
 *
 * Every HTTP client reads the same snapshot: the control socket is asked at most once a
 * second however many dashboards are open, and not at all while nobody looks (no stream
 * open and no request for FLEET_IDLE_USEC). A request that finds the snapshot older than
 * FLEET_FRESH_USEC waits for the next answer (fleet_wait()), which it triggers.
 *
 * Requests and replies share the connection in order (the emperor answers one line per
 * request line), so a reply is matched to its caller by position. The connection is the
 * process's lifeline: when the emperor closes it, emperor-web exits and the emperor that
 * comes next starts a new one. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include <cJSON.h>

#define FLEET_FRESH_USEC (1500 * 1000ULL)
#define FLEET_POLL_USEC (1000 * 1000ULL)
#define FLEET_IDLE_USEC (30 * 1000 * 1000ULL)

typedef struct Fleet Fleet;

/* reply: the emperor's answer (the callee may keep it: it owns it), NULL when the
 * connection is lost or out of memory. */
typedef void (*fleet_reply_t)(cJSON *reply, void *userdata);
/* A new snapshot arrived. */
typedef void (*fleet_update_t)(Fleet *f, void *userdata);
/* A line the emperor sent unasked: {"event": ...} (a log tail's, emperor/control.c). */
typedef void (*fleet_event_t)(const cJSON *event, void *userdata);

/* fd: a connected control socket (taken over). */
int fleet_new(sd_event *e, int fd, Fleet **ret);
Fleet *fleet_free(Fleet *f);
void fleet_set_update(Fleet *f, fleet_update_t cb, void *userdata);
void fleet_set_event(Fleet *f, fleet_event_t cb, void *userdata);

/* The "vassals" array of the last status (details included); NULL before the first. */
const cJSON *fleet_vassals(const Fleet *f);
/* One vassal of it by name; NULL when absent. */
const cJSON *fleet_find(const Fleet *f, const char *name);
/* CLOCK_MONOTONIC µs of the snapshot; 0 before the first. */
uint64_t fleet_time(const Fleet *f);
bool fleet_fresh(const Fleet *f);

/* Someone looks (a request, an open stream): keep polling for FLEET_IDLE_USEC. */
void fleet_demand(Fleet *f);
/* Keep polling while streams are open. */
void fleet_set_streams(Fleet *f, unsigned n);
/* Calls cb (with reply NULL) once the next snapshot is in, polling now if none is on its way. */
int fleet_wait(Fleet *f, fleet_reply_t cb, void *userdata);
/* Sends {"v":1,"cmd":cmd,"vassal":vassal}; cb gets the reply. */
int fleet_call(Fleet *f, const char *cmd, const char *vassal, fleet_reply_t cb, void *userdata);
/* Sends req (a request object, with "v" added); cb gets the reply. cb NULL: the reply is
 * dropped. */
int fleet_call_json(Fleet *f, cJSON *req, fleet_reply_t cb, void *userdata);
/* The caller with this userdata is gone: its pending callbacks are dropped. */
void fleet_cancel(Fleet *f, void *userdata);
