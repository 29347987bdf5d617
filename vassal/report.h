/* SPDX-License-Identifier: MIT */
#pragma once

/* Where the master's periodic report (STATUS= and X_STATS=, one message) goes when an emperor
 * supervises it. The emperor names its stats socket in $EMPEROR_STATS_SOCKET: a SOCK_SEQPACKET
 * listener the master connects to once and writes each report to as one record. Unlike the
 * notify socket (a datagram socket whose queue holds ten messages), each connection queues
 * what its sender wrote, so the emperor needs no wake-up per vassal: it reads every
 * connection once per stats tick. Lifecycle messages (READY=1, STOPPING=1, X_EVENT=) keep
 * going to NOTIFY_SOCKET, where they are read at once.
 *
 * A report the socket cannot take now (no emperor, a full queue) is dropped: the next one
 * supersedes it. A lost connection (the emperor restarted) is made again at the next report,
 * so a new emperor hears every vassal that outlived the old one.
 *
 * An idle vassal's report is the same second after second but for the last interval's
 * measures (CPU, p99): once the emperor holds a report over this connection, one whose
 * stats part is unchanged goes as X_STATS_SAME= with those measures alone, which the emperor
 * applies to the stats it holds (emperor/notify.h). A new connection always starts with a
 * whole report, and a report that was dropped is never the one held. */

#include <stdbool.h>
#include <stddef.h>

typedef struct Reporter Reporter;

/* From $EMPEROR_STATS_SOCKET; *ret NULL (and 0) when it is not set. -errno when it is but is
 * not a usable path. */
int reporter_new_from_env(Reporter **ret);
Reporter *reporter_free(Reporter *r);
/* Sends one whole report. false when it could not go (logged at debug: an emperor that
 * restarts is no error). Never blocks. held: its stats part without the interval's measures
 * (what reporter_holds() compares), remembered when the report went; NULL: none. */
bool reporter_send(Reporter *r, const char *msg, size_t len, const char *held);
/* Whether the emperor holds a report whose stats part was held, over the connection as it is:
 * then reporter_send_brief() may go instead. */
bool reporter_holds(const Reporter *r, const char *held);
/* Sends a brief report (X_STATS_SAME=) over the connection the held report went on, never a
 * new one. false when it did not go: send the whole report then. */
bool reporter_send_brief(Reporter *r, const char *msg, size_t len);
/* Closes the connection in a forked worker (the master's alone). */
void reporter_forget(Reporter *r);
