/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "users.h"

/* The largest buffer getpw*_r may ask for before we call the entry unreadable. */
#define USERS_BUFFER_MAX (1024U * 1024U)

/* A bare decimal number that fits an id ((uid_t) -1 is "no id" for the kernel). -EINVAL for a
 * number out of range, 0 for anything else (a name). 1 with *ret for an id. */
static int parse_id(const char *s, unsigned long *ret) {
        unsigned long v;
        char *end;

        if (!*s || strspn(s, "0123456789") != strlen(s))
                return 0;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end || v >= (unsigned long) (uid_t) -1)
                return -EINVAL;
        *ret = v;
        return 1;
}

/* getpwnam_r's and getgrnam_r's "not found": 0 or one of the errnos the manual lists. */
static bool not_found(int r) {
        return r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM;
}

/* Looks a user up by name (name) or uid (name NULL). Returns 1 with the entry's fields, 0
 * when there is none, -errno. */
static int passwd_lookup(const char *name, uid_t uid, uid_t *ret_uid, gid_t *ret_gid,
                         char **ret_name) {
        long hint = sysconf(_SC_GETPW_R_SIZE_MAX);

        for (size_t size = hint > 0 ? (size_t) hint : 1024; size <= USERS_BUFFER_MAX; size *= 2) {
                _cleanup_free_ char *buf = malloc(size);
                struct passwd pw, *found = NULL;
                int r;

                if (!buf)
                        return -ENOMEM;
                r = name ? getpwnam_r(name, &pw, buf, size, &found)
                         : getpwuid_r(uid, &pw, buf, size, &found);
                if (r == ERANGE)
                        continue;
                if (!found)
                        return not_found(r) ? 0 : -r;
                *ret_uid = pw.pw_uid;
                *ret_gid = pw.pw_gid;
                if (ret_name && !(*ret_name = strdup(pw.pw_name)))
                        return -ENOMEM;
                return 1;
        }
        return -ERANGE;
}

static int group_lookup(const char *name, gid_t *ret_gid) {
        long hint = sysconf(_SC_GETGR_R_SIZE_MAX);

        for (size_t size = hint > 0 ? (size_t) hint : 1024; size <= USERS_BUFFER_MAX; size *= 2) {
                _cleanup_free_ char *buf = malloc(size);
                struct group gr, *found = NULL;
                int r;

                if (!buf)
                        return -ENOMEM;
                r = getgrnam_r(name, &gr, buf, size, &found);
                if (r == ERANGE)
                        continue;
                if (!found)
                        return not_found(r) ? 0 : -r;
                *ret_gid = gr.gr_gid;
                return 1;
        }
        return -ERANGE;
}

int user_resolve(const char *user, uid_t *ret_uid, gid_t *ret_gid, char **ret_name) {
        uid_t uid;
        gid_t gid = (gid_t) -1;
        unsigned long id;
        char *name = NULL;
        int r;

        if (!user || !*user)
                return -EINVAL;
        r = parse_id(user, &id);
        if (r < 0)
                return r;
        if (r > 0) {
                /* A number is a uid with or without an entry; the entry gives its group. */
                r = passwd_lookup(NULL, (uid_t) id, &uid, &gid, ret_name ? &name : NULL);
                if (r < 0)
                        return r;
                if (r == 0) {
                        uid = (uid_t) id;
                        gid = (gid_t) -1;
                }
        } else {
                r = passwd_lookup(user, 0, &uid, &gid, ret_name ? &name : NULL);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ESRCH;
        }
        if (ret_uid)
                *ret_uid = uid;
        if (ret_gid)
                *ret_gid = gid;
        if (ret_name)
                *ret_name = name;
        return 0;
}

int group_resolve(const char *group, gid_t *ret_gid) {
        unsigned long id;
        gid_t gid = (gid_t) -1;
        int r;

        if (!group || !*group)
                return -EINVAL;
        r = parse_id(group, &id);
        if (r < 0)
                return r;
        if (r > 0) {
                gid = (gid_t) id;
        } else {
                r = group_lookup(group, &gid);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ESRCH;
        }
        if (ret_gid)
                *ret_gid = gid;
        return 0;
}

void credentials_done(Credentials *c) {
        free(c->user);
        *c = (Credentials) {};
}

/* The message for a failed user_resolve() or group_resolve() of key = value. */
static int credentials_fail(int r, const char *key, const char *value, const char *what,
                            char *error, size_t size) {
        if (r == -ESRCH)
                (void) snprintf(error, size, "%s = %s: no such %s", key, value, what);
        else if (r == -EINVAL)
                (void) snprintf(error, size, "%s = %s: not a %s name or number", key, value, what);
        else if (r != -ENOMEM)
                (void) snprintf(error, size, "%s = %s: cannot read the %s database: %s", key,
                                value, what, strerror(-r));
        return r == -ESRCH ? -EINVAL : r;
}

int credentials_resolve(const char *uid, const char *gid, Credentials *ret, char *error,
                        size_t error_size) {
        Credentials c = {};
        gid_t primary;
        int r;

        if (error_size > 0)
                error[0] = 0;
        if (uid) {
                r = user_resolve(uid, &c.uid, &primary, &c.user);
                if (r < 0)
                        return credentials_fail(r, "uid", uid, "user", error, error_size);
                c.set_uid = true;
                if (primary != (gid_t) -1) {
                        c.set_gid = true;
                        c.gid = primary;
                }
        }
        if (gid) {
                r = group_resolve(gid, &c.gid);
                if (r < 0) {
                        credentials_done(&c);
                        return credentials_fail(r, "gid", gid, "group", error, error_size);
                }
                c.set_gid = true;
        }
        if (c.set_uid && !c.set_gid) {
                (void) snprintf(error, error_size, "uid = %s: no such user in the user database, "
                                "so no group to run as: set 'gid' too", uid);
                credentials_done(&c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}

int owner_resolve(const char *spec, uid_t *ret_uid, gid_t *ret_gid) {
        _cleanup_free_ char *user = strdup(spec);
        uid_t uid = (uid_t) -1;
        gid_t gid = (gid_t) -1;
        char *group;
        int r;

        if (!user)
                return -ENOMEM;
        group = strchr(user, ':');
        if (group)
                *group++ = 0;
        if (*user) {
                r = user_resolve(user, &uid, &gid, NULL);
                if (r < 0)
                        return r == -ESRCH || r == -EINVAL ? -ENOENT : r;
        }
        if (group && *group) {
                r = group_resolve(group, &gid);
                if (r < 0)
                        return r == -ESRCH || r == -EINVAL ? -ENOENT : r;
        }
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}
