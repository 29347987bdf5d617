/* SPDX-License-Identifier: MIT */
#pragma once

/* The emperor's end of the vassals' stats reports (vassal/report.h): RUN_DIR/stats.sock, a
 * SOCK_SEQPACKET listener each vassal master connects to once. Nothing wakes the emperor when
 * a report arrives: reports_collect() reads every connection once per stats tick, hands the
 * newest report of each to its instance (instance_notify(), the same parser as the notify
 * socket's) and drops what is stale. So an idle fleet of a thousand costs one wake-up a
 * second, not a thousand (the notify socket's datagram queue holds ten messages: it cannot be
 * left unread for a tick).
 *
 * A connection is kept only while its peer's pid (SO_PEERCRED at connect) is a process the
 * emperor watches, one per pid: no local user can hold descriptors here, and a vassal that
 * reconnects replaces its old connection. */

#include "manager.h"

typedef struct Reports Reports;

int reports_new(Manager *m, const char *path, Reports **ret);
Reports *reports_free(Reports *r);
static inline void reports_freep(Reports **r) {
        reports_free(*r);
}
/* Reads what every connection holds and passes each vassal's newest report on. */
void reports_collect(Reports *r);
unsigned reports_connections(const Reports *r);
