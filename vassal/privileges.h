/* SPDX-License-Identifier: MIT */
#pragma once

/* `uid` and `gid`: a vassal started as root binds its sockets and opens its log as root, then
 * becomes the configured user before it loads any code (the app, the workers, an exec
 * program). Names or numbers. Without `gid`, the user's primary group (as systemd's User=
 * does: uWSGI would keep root's group). Supplementary groups are the user's (initgroups), or
 * none but gid for a bare number. Names are resolved by lib/users.h, as the emperor's. */

#include "users.h"

/* Becomes uid/gid. Not root, it succeeds only when we already are them. Returns 0, -EINVAL
 * (logged; the message is privileges_error()'s): the vassal exits EX_CONFIG, or another -errno
 * (logged too: the user database could not be read). */
int privileges_drop(const char *uid, const char *gid);

/* The message of the last failure, or NULL. */
const char *privileges_error(void);
