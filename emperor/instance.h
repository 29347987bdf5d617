/* SPDX-License-Identifier: MIT */
#pragma once

/* One vassal: its ini, the sockets the emperor holds for it, and its processes. The state
 * machine (DESIGN.md):
 *
 *   starting -> running -> (reloading -> running)* -> stopping -> stopped | gone
 *   an unasked death -> crash-loop (backoff: 1 s floor, doubling to 60 s, reset after a
 *   stable minute, forever) -> starting;  exit 78 -> config-error until the ini changes.
 *
 * Every change of the ini is checked with `vassal --check` first; a reload starts a new vassal
 * on the same sockets and stops the old one only once the new one reported READY=1. */

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vstats.h"
#include "manager.h"
#include "scan.h"

typedef enum InstanceState {
        STATE_STARTING,
        STATE_RUNNING,
        STATE_RELOADING,
        STATE_STOPPING,
        STATE_STOPPED,
        STATE_CRASH_LOOP,
        STATE_CONFIG_ERROR,
        _STATE_MAX,
} InstanceState;

const char *instance_state_to_string(InstanceState s);

Instance *instance_new(Manager *m, const ScanEntry *e);
void instance_free(Instance *i);

/* The link of the manager's list of instances. */
Instance **instance_next(Instance *i);
const char *instance_name(const Instance *i);
InstanceState instance_state(const Instance *i);
uid_t instance_owner(const Instance *i);
bool instance_seen(Instance *i, bool reset);
/* Whether any process of the instance is still alive. */
bool instance_has_processes(const Instance *i);

/* The scan found the ini for the first time, changed, or gone. */
void instance_start(Instance *i);
void instance_changed(Instance *i, const ScanEntry *e);
void instance_removed(Instance *i);
/* Emperor shutdown: stop gracefully, keep the record. */
void instance_shutdown(Instance *i);

/* Control commands. Return 0, or -errno with *ret_error set (static text or malloc'd via
 * ret_free). */
int instance_cmd_reload(Instance *i, const char **ret_error);
int instance_cmd_restart(Instance *i, const char **ret_error);
int instance_cmd_chain_reload(Instance *i, const char **ret_error);
int instance_cmd_stop(Instance *i, const char **ret_error);
int instance_cmd_start(Instance *i, const char **ret_error);

/* A datagram from the notify socket sent by pid; false when pid is none of ours. */
bool instance_notify(Instance *i, pid_t pid, const char *msg, size_t len);

cJSON *instance_to_json(const Instance *i, bool detail);
unsigned instance_restarts(const Instance *i);
/* Seconds since the serving process started; NaN when none runs. */
double instance_uptime(const Instance *i);
/* The serving process's last stats report (X_STATS=), decoded; NULL before the first. */
const VassalStats *instance_stats(const Instance *i);
/* The serving process's pid (0: none) and when its last X_STATS came (CLOCK_MONOTONIC µs, 0:
 * never). */
pid_t instance_pid(const Instance *i, uint64_t *ret_stats_usec);
const char *instance_path(const Instance *i);
