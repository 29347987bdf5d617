/* SPDX-License-Identifier: MIT */
#pragma once

/* Static files, answered by the worker in C before the app is called (so without the GIL),
 * with uWSGI's options and meanings:
 *
 *   static-map = /static=/srv/app/static   /static/a.css -> /srv/app/static/a.css
 *   static-map2 = /static=/srv/app         /static/a.css -> /srv/app/static/a.css
 *   check-static = /srv/app/public         /a.css        -> /srv/app/public/a.css
 *
 * Rules are tried in the order given; a file that is not there goes on to the next rule and
 * then to the app, as in uWSGI. A directory is served through static-index, or goes on too.
 *
 * Never outside a root: the URL path is decoded and checked here (static_path_normalize(),
 * which refuses "..", encoded slashes, NUL and backslashes), and the file is opened with
 * openat2(RESOLVE_BENEATH) from the root, so no symlink leads out either. The body goes out
 * with sendfile(2), waiting for the client up to socket-timeout for each bit of progress. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "request.h"

typedef struct StaticFiles StaticFiles;

int static_files_new(StaticFiles **ret);
StaticFiles *static_files_free(StaticFiles *s);
static inline void static_files_freep(StaticFiles **s) {
        static_files_free(*s);
}

/* Whether key is one of the ini keys static_files_add() takes. */
bool static_files_key(const char *key);
/* Adds one value of key: a mapping, an index name, an extension, an expiry rule. Returns 0,
 * -ENOMEM, or -EINVAL with *ret_expected a phrase for "key: expected ...". */
int static_files_add(StaticFiles *s, const char *key, const char *value,
                     const char **ret_expected);
/* Whether any mapping (static-map, static-map2, check-static) was added. */
bool static_files_active(const StaticFiles *s);

/* Answers r from a mapped directory when a rule maps its URL to a file. Returns true when r
 * was answered (200, 206, 304, 400, 403, 404, 405 or 416; the connection stays usable unless
 * writing failed), false when the app is to have it. s may be NULL. */
bool static_serve(const StaticFiles *s, Request *r);

/* The URL path after a mount point, still %-encoded ("/css/a%20b.css"), turned into a path
 * relative to the root ("css/a b.css"; "" for the root itself): escapes decoded, empty and "."
 * segments dropped. Refused: -EINVAL for a malformed escape (400); -EPERM for a ".." segment,
 * an encoded '/', a NUL or a backslash, raw or encoded (404); -ENAMETOOLONG when out (of
 * out_size bytes, at least len + 1 is always enough) is too small. The result never starts
 * with '/', and none of its segments is empty, "." or "..". */
int static_path_normalize(const char *path, size_t len, char *out, size_t out_size);

/* "Sun, 06 Nov 1994 08:49:37 GMT" into buf (at least 30 bytes). */
void static_format_date(time_t t, char *buf, size_t size);
/* An HTTP date (IMF-fixdate, RFC 850 or asctime form); -EINVAL when it is none. */
int static_parse_date(const char *s, size_t len, time_t *ret);

/* A Range header against a file of size bytes: 1 with the single range in *ret_offset and
 * *ret_length; 0 when it is to be ignored (not bytes, malformed, or several ranges: the whole
 * file is sent); -1 when it cannot be satisfied (416). */
int static_parse_range(const char *s, size_t len, uint64_t size, uint64_t *ret_offset,
                       uint64_t *ret_length);
