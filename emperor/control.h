/* SPDX-License-Identifier: MIT */
#pragma once

/* The control socket, RUN_DIR/control.sock: one JSON request per line, one JSON reply per line
 * (lib/proto.h). Callers are identified with SO_PEERCRED: root and the emperor's own user may
 * do anything; in tyrant mode a user may see and act on their own vassals only; everybody else
 * is refused. Bounded: request size, clients, reply buffer. */

typedef struct Manager Manager;
typedef struct Control Control;

int control_new(Manager *m, Control **ret);
void control_free(Control *c);
