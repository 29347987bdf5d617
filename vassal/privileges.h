/* SPDX-License-Identifier: MIT */
#pragma once

/* `uid` and `gid`: a vassal started as root binds its sockets and opens its log as root, then
 * becomes the configured user before it loads any code (the app, the workers, an exec
 * program). Names or numbers. Without `gid`, the user's primary group (as systemd's User=
 * does: uWSGI would keep root's group). Supplementary groups are the user's (initgroups), or
 * none but gid for a bare number. */

#include <stdbool.h>
#include <sys/types.h>

typedef struct Credentials {
        bool set_uid, set_gid;
        uid_t uid;
        gid_t gid;
        char *user; /* the passwd name, for initgroups; NULL for a number without an entry */
} Credentials;

/* Looks the names up. Returns 0, or -EINVAL for an unknown user or group (not reported: the
 * message is privileges_error()'s), or -ENOMEM. */
int privileges_resolve(const char *uid, const char *gid, Credentials *ret);
void credentials_done(Credentials *c);

/* Becomes uid/gid. Not root, it succeeds only when we already are them. Returns 0, or -EINVAL
 * (logged; the message is privileges_error()'s): the vassal exits EX_CONFIG. */
int privileges_drop(const char *uid, const char *gid);

/* The message of the last failure, or NULL. */
const char *privileges_error(void);
