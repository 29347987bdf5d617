/* SPDX-License-Identifier: MIT */
#pragma once

/* Users and groups by name or number, the one place every program resolves them: the vassal's
 * uid/gid, the emperor's (which runs each vassal as its ini's uid/gid), chown-socket.
 *
 * A bare decimal number is an id, whether or not the database has an entry for it (uWSGI and
 * systemd both accept one); anything else is a name, looked up (getpwnam_r: reentrant, and
 * "no such user" told apart from a database that cannot be read). */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* user: its uid; *ret_gid its primary group and *ret_name its name when the database has it,
 * else (gid_t) -1 and NULL (either may be NULL). Returns 0, -ESRCH for an unknown name,
 * -EINVAL for an empty string or a number past the largest uid, -ENOMEM, or the database's
 * -errno. */
int user_resolve(const char *user, uid_t *ret_uid, gid_t *ret_gid, char **ret_name);
/* The same for a group. */
int group_resolve(const char *group, gid_t *ret_gid);

typedef struct Credentials {
        bool set_uid, set_gid;
        uid_t uid;
        gid_t gid;
        char *user; /* the passwd name, for initgroups; NULL for a number without an entry */
} Credentials;

/* A vassal's uid and gid (either may be NULL): gid defaults to the user's primary group (as
 * systemd's User=; uWSGI would keep root's). Returns 0, -EINVAL for an unknown or malformed
 * user or group, or one whose group cannot be known (a uid number without a database entry
 * and no gid), with the reason in error ("uid = bob: no such user"), -ENOMEM, or the
 * database's -errno (also described in error). */
int credentials_resolve(const char *uid, const char *gid, Credentials *ret, char *error,
                        size_t error_size);
void credentials_done(Credentials *c);

/* "user[:group]" (chown-socket): either part may be empty or missing, then -1 (unchanged, for
 * chown). A user alone also gives its primary group, as chown(1) does not but uWSGI does.
 * Returns 0, -ENOENT for an unknown (or malformed) user or group, -ENOMEM or -errno. */
int owner_resolve(const char *spec, uid_t *ret_uid, gid_t *ret_gid);
