/* SPDX-License-Identifier: MIT */
#pragma once

/* --http-auth FILE: who may use the dashboard. FILE holds "user:hash" lines, hashes as
 * crypt(3) makes them (`mkpasswd -m yescrypt`, bcrypt "$2b$", sha512-crypt "$6$"): libcrypt
 * checks them. It is read once at start, before emperor-web drops its privileges, so it may
 * be readable by root alone. A login makes a session: a random id in an HttpOnly,
 * SameSite=Strict cookie, kept in memory for AUTH_SESSION_USEC of idleness (a restart of
 * emperor-web logs everyone out). Scripts (Prometheus) may send Basic credentials instead. */

#include <stdbool.h>
#include <stdint.h>

#include "http.h"

#define AUTH_SESSION_USEC (12 * 3600 * 1000000ULL)
#define AUTH_MAX_SESSIONS 1024

typedef struct Auth Auth;

/* Returns 0, or -errno (-EINVAL: a malformed line, said in error). */
int auth_new(const char *path, Auth **ret, char *error, size_t error_size);
Auth *auth_free(Auth *a);

/* The request's user (by session cookie or Basic credentials) and, for a session, its CSRF
 * token; NULL when it has none. */
const char *auth_check(Auth *a, const HttpRequest *req, const char **ret_csrf);
/* Checks user and password; on success a new session: *ret_cookie is the Set-Cookie value
 * (to free). -EACCES when they do not match. */
int auth_login(Auth *a, const char *user, const char *password, char **ret_cookie);
/* Ends the request's session, if any. */
void auth_logout(Auth *a, const HttpRequest *req);
/* The Set-Cookie value that removes the cookie. */
const char *auth_clear_cookie(void);
