/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Whether systemd is restarting the unit the emperor runs in (`systemctl restart emperor`):
 * the job systemd runs for the unit is a restart. Then SIGTERM leaves the fleet running for
 * the next emperor to adopt, where `systemctl stop` stops it (emperor(8)). Asked on systemd's
 * bus with a short timeout; false when not under systemd or when it cannot be asked. */
bool sysd_unit_restarting(void);
