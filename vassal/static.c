/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "macro.h"
#include "response.h"
#include "static.h"

/* Files up to this size are read and sent with their head in one write; larger ones go out
 * by sendfile(2). */
#define STATIC_SMALL 16384

typedef enum StaticKind {
        STATIC_MAP,   /* static-map: the path after the mount point, under the root */
        STATIC_MAP2,  /* static-map2: the whole path, mount point included, under the root */
        STATIC_CHECK, /* check-static: the whole path; what cannot name a file goes to the app */
} StaticKind;

typedef struct StaticRule {
        StaticKind kind;
        char *mount; /* without a trailing '/': "" maps everything */
        size_t mount_len;
        char *root; /* a directory; for static-map also a single file */
} StaticRule;

typedef struct StaticExpires {
        regex_t re;
        bool by_uri; /* static-expires-uri: against REQUEST_URI; static-expires: the file's path */
        int64_t seconds;
} StaticExpires;

typedef struct MimeType {
        char *ext;
        char *type;
} MimeType;

struct StaticFiles {
        StaticRule *rules;
        size_t n_rules;
        char **index;
        size_t n_index;
        size_t index_max; /* the longest index name */
        char **skip_ext;
        size_t n_skip_ext;
        StaticExpires *expires;
        size_t n_expires;
        bool expires_by_name; /* some rule needs the file's path */
        MimeType *mime;       /* /etc/mime.types, sorted by extension */
        size_t n_mime;
        bool mime_loaded;
};

/* What we know without /etc/mime.types (a minimal container has none), and prefer to it:
 * modern types for the web's own files (text/javascript, font/woff2, application/wasm). */
static const struct {
        const char *ext, *type;
} builtin_mime[] = {
        { "atom", "application/atom+xml" }, { "avif", "image/avif" },
        { "bmp", "image/bmp" },             { "css", "text/css" },
        { "csv", "text/csv" },              { "eot", "application/vnd.ms-fontobject" },
        { "gif", "image/gif" },             { "gz", "application/gzip" },
        { "htm", "text/html" },             { "html", "text/html" },
        { "ico", "image/x-icon" },          { "jpeg", "image/jpeg" },
        { "jpg", "image/jpeg" },            { "js", "text/javascript" },
        { "json", "application/json" },    { "map", "application/json" },
        { "md", "text/markdown" },          { "mjs", "text/javascript" },
        { "mp3", "audio/mpeg" },            { "mp4", "video/mp4" },
        { "ogg", "audio/ogg" },             { "otf", "font/otf" },
        { "pdf", "application/pdf" },       { "png", "image/png" },
        { "rss", "application/rss+xml" },   { "svg", "image/svg+xml" },
        { "tar", "application/x-tar" },     { "ttf", "font/ttf" },
        { "txt", "text/plain" },            { "wasm", "application/wasm" },
        { "wav", "audio/wav" },             { "webm", "video/webm" },
        { "webmanifest", "application/manifest+json" },
        { "webp", "image/webp" },           { "woff", "font/woff" },
        { "woff2", "font/woff2" },          { "xhtml", "application/xhtml+xml" },
        { "xml", "application/xml" },       { "zip", "application/zip" },
};

static const char *const static_keys[] = {
        "static-map",   "static-map2",        "check-static",   "static-index",
        "static-skip-ext", "static-expires-uri", "static-expires",
};

int static_files_new(StaticFiles **ret) {
        StaticFiles *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

StaticFiles *static_files_free(StaticFiles *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_rules; i++) {
                free(s->rules[i].mount);
                free(s->rules[i].root);
        }
        free(s->rules);
        for (size_t i = 0; i < s->n_index; i++)
                free(s->index[i]);
        free(s->index);
        for (size_t i = 0; i < s->n_skip_ext; i++)
                free(s->skip_ext[i]);
        free(s->skip_ext);
        for (size_t i = 0; i < s->n_expires; i++)
                regfree(&s->expires[i].re);
        free(s->expires);
        for (size_t i = 0; i < s->n_mime; i++) {
                free(s->mime[i].ext);
                free(s->mime[i].type);
        }
        free(s->mime);
        free(s);
        return NULL;
}

bool static_files_key(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(static_keys); i++)
                if (streq(key, static_keys[i]))
                        return true;
        return false;
}

bool static_files_active(const StaticFiles *s) {
        return s && s->n_rules > 0;
}

static int mime_compare(const void *a, const void *b) {
        return strcasecmp(((const MimeType *) a)->ext, ((const MimeType *) b)->ext);
}

/* /etc/mime.types ("type ext ext ..." lines), read once when the first mapping is added; a
 * system without it has the built-in table. */
static int mime_load(StaticFiles *s) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;

        s->mime_loaded = true;
        FILE *f = fopen("/etc/mime.types", "re");
        if (!f)
                return 0;
        while (getline(&line, &size, f) >= 0) {
                char *save = NULL, *type = strtok_r(line, " \t\r\n", &save);
                if (!type || type[0] == '#' || !strchr(type, '/'))
                        continue;
                for (char *ext; (ext = strtok_r(NULL, " \t\r\n", &save));) {
                        MimeType *m = reallocarray(s->mime, s->n_mime + 1, sizeof(*m));
                        if (!m) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        s->mime = m;
                        m[s->n_mime] = (MimeType) { strdup(ext), strdup(type) };
                        if (!m[s->n_mime].ext || !m[s->n_mime].type) {
                                free(m[s->n_mime].ext);
                                free(m[s->n_mime].type);
                                fclose(f);
                                return -ENOMEM;
                        }
                        s->n_mime++;
                }
        }
        fclose(f);
        if (s->n_mime > 0)
                qsort(s->mime, s->n_mime, sizeof(*s->mime), mime_compare);
        return 0;
}

static const char *mime_type(const StaticFiles *s, const char *name) {
        const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
        if (!dot || (slash && dot < slash) || !dot[1])
                return "application/octet-stream";
        const char *ext = dot + 1;
        for (size_t i = 0; i < ELEMENTSOF(builtin_mime); i++)
                if (strcasecmp(ext, builtin_mime[i].ext) == 0)
                        return builtin_mime[i].type;
        MimeType key = { (char *) ext, NULL };
        const MimeType *m = s->n_mime > 0 ? bsearch(&key, s->mime, s->n_mime, sizeof(*s->mime),
                                                    mime_compare)
                                          : NULL;
        return m ? m->type : "application/octet-stream";
}

/* A path as given, without trailing slashes ("/" stays "/" for a root, becomes "" for a
 * mount point). */
static char *strip_slashes(const char *p, size_t n, bool keep_root) {
        while (n > 1 && p[n - 1] == '/')
                n--;
        if (n == 1 && p[0] == '/' && !keep_root)
                n = 0;
        return strndup(p, n);
}

static int add_rule(StaticFiles *s, StaticKind kind, const char *mount, size_t mount_len,
                    const char *root) {
        StaticRule *rules = reallocarray(s->rules, s->n_rules + 1, sizeof(*rules));
        if (!rules)
                return -ENOMEM;
        s->rules = rules;
        StaticRule *rule = &rules[s->n_rules];
        *rule = (StaticRule) { .kind = kind };
        rule->mount = strip_slashes(mount, mount_len, false);
        rule->root = strip_slashes(root, strlen(root), true);
        if (!rule->mount || !rule->root) {
                free(rule->mount);
                free(rule->root);
                return -ENOMEM;
        }
        rule->mount_len = strlen(rule->mount);
        s->n_rules++;
        return s->mime_loaded ? 0 : mime_load(s);
}

static int add_string(char ***v, size_t *n, const char *value) {
        char **a = reallocarray(*v, *n + 1, sizeof(char *));
        if (!a)
                return -ENOMEM;
        *v = a;
        a[*n] = strdup(value);
        if (!a[*n])
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* "REGEX SECONDS", uWSGI's form: the seconds after the last blank. */
static int add_expires(StaticFiles *s, bool by_uri, const char *value,
                       const char **ret_expected) {
        const char *sp = NULL;
        int64_t seconds;

        for (const char *p = value; *p; p++)
                if (*p == ' ' || *p == '\t')
                        sp = p;
        *ret_expected = "a regular expression and seconds, such as '\\.css$ 86400'";
        if (!sp || sp == value || conf_parse_int(sp + 1, &seconds) < 0 || seconds < 0 ||
            seconds > INT32_MAX)
                return -EINVAL;
        size_t n = sp - value;
        while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
                n--;
        _cleanup_free_ char *pattern = strndup(value, n);
        if (!pattern)
                return -ENOMEM;
        StaticExpires *e = reallocarray(s->expires, s->n_expires + 1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        s->expires = e;
        e = &e[s->n_expires];
        if (regcomp(&e->re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
                *ret_expected = "a valid (POSIX extended) regular expression and seconds, "
                                "such as '\\.css$ 86400'";
                return -EINVAL;
        }
        e->by_uri = by_uri;
        e->seconds = seconds;
        s->expires_by_name |= !by_uri;
        s->n_expires++;
        return 0;
}

int static_files_add(StaticFiles *s, const char *key, const char *value,
                     const char **ret_expected) {
        if (streq(key, "static-map") || streq(key, "static-map2")) {
                const char *eq = strchr(value, '=');
                *ret_expected = "MOUNTPOINT=PATH, such as /static=/srv/app/static";
                if (!eq || value[0] != '/' || !eq[1])
                        return -EINVAL;
                return add_rule(s, streq(key, "static-map") ? STATIC_MAP : STATIC_MAP2, value,
                                eq - value, eq + 1);
        }
        if (streq(key, "check-static")) {
                *ret_expected = "a directory";
                if (!*value)
                        return -EINVAL;
                return add_rule(s, STATIC_CHECK, "", 0, value);
        }
        if (streq(key, "static-index")) {
                *ret_expected = "a file name such as index.html";
                if (!*value || strchr(value, '/') || streq(value, ".") || streq(value, ".."))
                        return -EINVAL;
                s->index_max = MAX(s->index_max, strlen(value));
                return add_string(&s->index, &s->n_index, value);
        }
        if (streq(key, "static-skip-ext")) {
                *ret_expected = "an extension such as .php";
                if (!*value)
                        return -EINVAL;
                return add_string(&s->skip_ext, &s->n_skip_ext, value);
        }
        if (streq(key, "static-expires-uri") || streq(key, "static-expires"))
                return add_expires(s, streq(key, "static-expires-uri"), value, ret_expected);
        *ret_expected = "a static file option";
        return -EINVAL;
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) tolower((unsigned char) c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int static_path_normalize(const char *path, size_t len, char *out, size_t out_size) {
        size_t o = 0, seg_start = 0, seg_len = 0;
        bool in_segment = false, seg_dots = true;

        /* A segment is written as it is decoded, after a '/' when one came before it; when it
         * ends, an empty or "." one is taken back with its '/', and ".." refuses the path:
         * nothing below may climb, whatever the kernel would make of it. */
        for (size_t i = 0; i <= len; i++) {
                if (i == len || path[i] == '/') {
                        if (!in_segment)
                                continue;
                        if (seg_dots && seg_len == 2)
                                return -EPERM;
                        if (seg_dots && seg_len <= 1)
                                o = seg_start;
                        in_segment = false;
                        continue;
                }
                if (!in_segment) {
                        seg_start = o;
                        if (o > 0) {
                                if (o + 1 >= out_size)
                                        return -ENAMETOOLONG;
                                out[o++] = '/';
                        }
                        seg_len = 0;
                        seg_dots = true;
                        in_segment = true;
                }
                unsigned char c = path[i];
                if (c == '%') {
                        int hi = i + 2 < len ? hex_value(path[i + 1]) : -1;
                        int lo = i + 2 < len ? hex_value(path[i + 2]) : -1;
                        if (hi < 0 || lo < 0)
                                return -EINVAL;
                        c = (unsigned char) (hi << 4 | lo);
                        i += 2;
                        /* An encoded slash is a name with a '/' in it, which no file has;
                         * decoded, it would be a separator the checks above never saw. */
                        if (c == '/')
                                return -EPERM;
                }
                if (c == 0 || c == '\\')
                        return -EPERM;
                if (o + 1 >= out_size)
                        return -ENAMETOOLONG;
                out[o++] = (char) c;
                seg_len++;
                seg_dots &= c == '.';
        }
        if (out_size == 0)
                return -ENAMETOOLONG;
        out[o] = 0;
        return 0;
}

static const char day_names[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char month_names[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Written by hand: strftime's names follow the locale, and HTTP's are English. */
void static_format_date(time_t t, char *buf, size_t size) {
        struct tm tm;
        if (!gmtime_r(&t, &tm)) {
                (void) snprintf(buf, size, "Thu, 01 Jan 1970 00:00:00 GMT");
                return;
        }
        (void) snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[tm.tm_wday],
                        tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                        tm.tm_min, tm.tm_sec);
}

static int month_from_name(const char *m) {
        for (int i = 0; i < 12; i++)
                if (strcmp(m, month_names[i]) == 0)
                        return i;
        return -1;
}

int static_parse_date(const char *s, size_t len, time_t *ret) {
        char buf[64], wday[16], mon[4];
        int day, year, hour, min, sec, end = -1;
        struct tm tm = {};

        if (len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = 0;
        /* IMF-fixdate, then the two obsolete forms HTTP/1.1 still accepts. */
        if (sscanf(buf, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wday, &day, mon,
                   &year, &hour, &min, &sec, &end) == 7 && end == (int) len)
                ;
        else if (end = -1, sscanf(buf, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n",
                                  wday, &day, mon, &year, &hour, &min, &sec, &end) == 7 &&
                 end == (int) len)
                year += year < 70 ? 2000 : 1900;
        else if (end = -1, sscanf(buf, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wday, mon,
                                  &day, &hour, &min, &sec, &year, &end) == 7 &&
                 end == (int) len)
                ;
        else
                return -EINVAL;
        int m = month_from_name(mon);
        if (m < 0 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || year < 1970 ||
            hour < 0 || min < 0 || sec < 0)
                return -EINVAL;
        tm.tm_year = year - 1900;
        tm.tm_mon = m;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        time_t t = timegm(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        *ret = t;
        return 0;
}

/* Digits at *p, saturating; false when there are none. */
static bool parse_u64(const char **p, const char *end, uint64_t *ret) {
        uint64_t v = 0;
        const char *q = *p;
        while (q < end && *q >= '0' && *q <= '9') {
                unsigned d = *q - '0';
                v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
                q++;
        }
        if (q == *p)
                return false;
        *p = q;
        *ret = v;
        return true;
}

int static_parse_range(const char *s, size_t len, uint64_t size, uint64_t *ret_offset,
                       uint64_t *ret_length) {
        const char *p = s, *end = s + len;
        uint64_t first, last;

        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        if (end - p < 6 || strncasecmp(p, "bytes=", 6) != 0)
                return 0;
        p += 6;
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        /* Several ranges would need multipart/byteranges: the whole file answers them. */
        if (memchr(p, ',', end - p))
                return 0;
        if (p < end && *p == '-') {
                p++;
                if (!parse_u64(&p, end, &last) || p != end)
                        return 0;
                if (last == 0 || size == 0)
                        return -1;
                *ret_offset = last >= size ? 0 : size - last;
                *ret_length = size - *ret_offset;
                return 1;
        }
        if (!parse_u64(&p, end, &first) || p == end || *p != '-')
                return 0;
        p++;
        bool have_last = parse_u64(&p, end, &last);
        if (p != end || (have_last && last < first))
                return 0;
        if (first >= size)
                return -1;
        if (!have_last || last >= size)
                last = size - 1;
        *ret_offset = first;
        *ret_length = last - first + 1;
        return 1;
}

static int add_header(Request *r, const char *name, const char *value) {
        return response_add_header(r, name, strlen(name), value, strlen(value));
}

/* A short plain-text answer of ours; the connection stays open (its body, if any, is
 * drained by the caller as after the app). */
static bool static_error(Request *r, int status) {
        char status_text[64], body[80];
        int sl = snprintf(status_text, sizeof(status_text), "%d %s", status,
                          http_status_reason(status));
        int bl = snprintf(body, sizeof(body), "%s\n", status_text);
        int k = response_start(r, status_text, sl);
        if (k >= 0)
                k = add_header(r, "Content-Type", "text/plain");
        if (k >= 0 && status == 405)
                k = add_header(r, "Allow", "GET, HEAD");
        if (k >= 0)
                k = response_set_length(r, bl);
        if (k >= 0)
                k = response_write(r, &(struct iovec) { body, bl }, 1);
        if (k >= 0)
                k = response_finish(r);
        if (k < 0)
                r->keep_alive = false;
        return true;
}

static int openat2_beneath(int dirfd, const char *path) {
        struct open_how how = {
                .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        return (int) syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Where fd leads, from /proc: for the check when openat2 is missing (Linux < 5.6). */
static int fd_path(int fd, char *buf, size_t size) {
        char link[64];
        (void) snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, buf, size - 1);
        if (n < 0)
                return -errno;
        if ((size_t) n >= size - 1)
                return -ENAMETOOLONG;
        buf[n] = 0;
        return 0;
}

/* Opens rel beneath root (root itself when rel is ""). O_NONBLOCK: a FIFO someone left in
 * the directory must not hold the thread. Returns the fd or -errno: -EXDEV or -ELOOP when a
 * symlink would lead out of root. */
static int open_beneath(const char *root, const char *rel) {
        static bool no_openat2 = false; /* the kernel said ENOSYS once: it always will */

        if (!rel[0]) {
                int fd = open(root, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
                return fd < 0 ? -errno : fd;
        }
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return -errno;
        if (!no_openat2) {
                int fd = openat2_beneath(rootfd, rel);
                if (fd >= 0 || errno != ENOSYS)
                        return fd < 0 ? -errno : fd;
                no_openat2 = true;
        }
        /* Without openat2: open, then ask /proc where the fd really is. */
        _cleanup_close_ int fd = openat(rootfd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno;
        char want[PATH_MAX], got[PATH_MAX];
        if (fd_path(rootfd, want, sizeof(want)) < 0 || fd_path(fd, got, sizeof(got)) < 0)
                return -EXDEV;
        size_t n = strlen(want);
        if (streq(want, "/"))
                n = 0;
        if (strncmp(got, want, n) != 0 || got[n] != '/')
                return -EXDEV;
        return TAKE_FD(fd);
}

/* The first expiry rule matching the request's URI or the file's path: its seconds, or -1. */
static int64_t expires_for(const StaticFiles *s, const Request *r, int fd) {
        char name[PATH_MAX];
        bool have_name = false;
        size_t uri_len;
        const char *uri;

        if (s->n_expires == 0)
                return -1;
        uri = request_get_var(r, "REQUEST_URI", &uri_len);
        _cleanup_free_ char *u = strndup(uri ?: "", uri ? uri_len : 0);
        if (!u)
                return -1;
        if (s->expires_by_name)
                have_name = fd_path(fd, name, sizeof(name)) >= 0;
        for (size_t i = 0; i < s->n_expires; i++) {
                const StaticExpires *e = &s->expires[i];
                if (!e->by_uri && !have_name)
                        continue;
                if (regexec(&e->re, e->by_uri ? u : name, 0, NULL, 0) == 0)
                        return e->seconds;
        }
        return -1;
}

/* Whether an If-None-Match list names etag (weak comparison, as for GET and HEAD). */
static bool etag_listed(const char *list, size_t len, const char *etag) {
        size_t el = strlen(etag);
        const char *p = list, *end = list + len;

        while (p < end) {
                while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                        p++;
                const char *q = p;
                while (q < end && *q != ',')
                        q++;
                const char *e = q;
                while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                if (e - p == 1 && *p == '*')
                        return true;
                if (e - p > 2 && p[0] == 'W' && p[1] == '/')
                        p += 2;
                if ((size_t) (e - p) == el && memcmp(p, etag, el) == 0)
                        return true;
                p = q;
        }
        return false;
}

/* Answers with the open file: 304 when the client's copy is current, 206 or 416 for a Range,
 * else 200, the body by sendfile(2). */
static bool serve_file(const StaticFiles *s, Request *r, int fd, const struct stat *st,
                       const char *name) {
        char etag[64], modified[40], expires[40], max_age[32], range[96];
        uint64_t size = st->st_size, offset = 0, length = size;
        size_t len;
        const char *v;
        int k, status = 200;

        (void) snprintf(etag, sizeof(etag), "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t) size,
                        (uint64_t) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec);
        static_format_date(st->st_mtim.tv_sec, modified, sizeof(modified));

        /* If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3). */
        if ((v = request_get_var(r, "HTTP_IF_NONE_MATCH", &len)))
                status = etag_listed(v, len, etag) ? 304 : 200;
        else if ((v = request_get_var(r, "HTTP_IF_MODIFIED_SINCE", &len))) {
                time_t since;
                if (static_parse_date(v, len, &since) >= 0 && st->st_mtim.tv_sec <= since)
                        status = 304;
        }
        if (status == 200 && (v = request_get_var(r, "HTTP_RANGE", &len))) {
                size_t il;
                const char *if_range = request_get_var(r, "HTTP_IF_RANGE", &il);
                /* If-Range: the range only if the client's copy is this one; else all. */
                bool current = !if_range || (il == strlen(etag) && !memcmp(if_range, etag, il)) ||
                               (il == strlen(modified) && !memcmp(if_range, modified, il));
                k = current ? static_parse_range(v, len, size, &offset, &length) : 0;
                if (k > 0) {
                        status = 206;
                        (void) snprintf(range, sizeof(range),
                                        "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, offset,
                                        offset + length - 1, size);
                } else if (k < 0) {
                        status = 416;
                        (void) snprintf(range, sizeof(range), "bytes */%" PRIu64, size);
                }
        }

        k = response_start(r, status == 200   ? "200 OK"
                              : status == 206 ? "206 Partial Content"
                              : status == 304 ? "304 Not Modified"
                                              : "416 Range Not Satisfiable",
                           status == 200   ? 6
                           : status == 206 ? 19
                           : status == 304 ? 16
                                           : 25);
        if (k >= 0 && status != 304 && status != 416)
                k = add_header(r, "Content-Type", mime_type(s, name));
        if (k >= 0)
                k = add_header(r, "Last-Modified", modified);
        if (k >= 0)
                k = add_header(r, "ETag", etag);
        if (k >= 0 && (status == 200 || status == 206))
                k = add_header(r, "Accept-Ranges", "bytes");
        if (k >= 0 && (status == 206 || status == 416))
                k = add_header(r, "Content-Range", range);
        int64_t seconds = status == 416 ? -1 : expires_for(s, r, fd);
        if (k >= 0 && seconds >= 0) {
                static_format_date(time(NULL) + seconds, expires, sizeof(expires));
                (void) snprintf(max_age, sizeof(max_age), "max-age=%" PRId64, seconds);
                k = add_header(r, "Expires", expires);
                if (k >= 0)
                        k = add_header(r, "Cache-Control", max_age);
        }
        if (k >= 0 && (status == 200 || status == 206))
                k = response_set_length(r, length);
        if (k >= 0 && (status == 200 || status == 206) && !r->head && length <= STATIC_SMALL) {
                /* Read, and sent with the head in one write: one packet, where the head's
                 * write and sendfile(2) would make two (and cost the client a wake-up). */
                _cleanup_free_ char *buf = malloc(MAX(length, 1));
                ssize_t n = buf ? pread(fd, buf, length, (off_t) offset) : -1;
                if (n == (ssize_t) length)
                        k = response_write(r, &(struct iovec) { buf, length }, 1);
                else
                        k = n < 0 ? -errno : -EIO;
        } else if (k >= 0 && (status == 200 || status == 206))
                k = response_sendfile(r, fd, (off_t) offset, length);
        if (k >= 0)
                k = response_finish(r);
        if (k < 0) {
                if (!r->head_sent)
                        response_error(r, 500);
                r->keep_alive = false;
        }
        return true;
}

/* An error opening a file, as the client sees it: 0 for "not here" (the next rule, then the
 * app), else the status. */
static int open_error_status(int err, const char *root, const char *rel) {
        switch (err) {
        case -ENOENT:
        case -ENOTDIR:
        case -ENAMETOOLONG:
                return 0;
        case -EXDEV:
        case -ELOOP:
                log_info("static file '%s' under '%s' leads out of it: 404", rel, root);
                return 404;
        case -EACCES:
        case -EPERM:
                return 403;
        default:
                log_warning_errno(err, "static file '%s' under '%s': %m", rel, root);
                return 500;
        }
}

static bool skipped_ext(const StaticFiles *s, const char *rel) {
        size_t n = strlen(rel);
        for (size_t i = 0; i < s->n_skip_ext; i++) {
                size_t e = strlen(s->skip_ext[i]);
                if (e <= n && strcasecmp(rel + n - e, s->skip_ext[i]) == 0)
                        return true;
        }
        return false;
}

/* One rule's file for rel: 1 answered, 0 not here. rel has room for an index name. */
static int serve_rule(const StaticFiles *s, const StaticRule *rule, Request *r, char *rel) {
        struct stat st;
        int fd = open_beneath(rule->root, rel);
        if (fd < 0) {
                int status = open_error_status(fd, rule->root, rel);
                return status == 0 ? 0 : static_error(r, status);
        }
        _cleanup_close_ int file = fd;
        if (fstat(file, &st) < 0)
                return static_error(r, 500);
        if (S_ISDIR(st.st_mode)) {
                /* uWSGI's way: a directory is the app's unless an index file is there. */
                size_t n = strlen(rel);
                file = safe_close(file);
                for (size_t i = 0; i < s->n_index && file < 0; i++) {
                        (void) sprintf(rel + n, "%s%s", n > 0 ? "/" : "", s->index[i]);
                        fd = open_beneath(rule->root, rel);
                        if (fd >= 0) {
                                file = fd;
                                if (fstat(file, &st) < 0)
                                        return static_error(r, 500);
                                break;
                        }
                        int status = open_error_status(fd, rule->root, rel);
                        if (status != 0)
                                return static_error(r, status);
                }
                if (file < 0)
                        return 0;
        }
        if (!S_ISREG(st.st_mode))
                return static_error(r, 403);
        if (!((r->method_len == 3 && memcmp(r->method, "GET", 3) == 0) ||
              (r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0)))
                return static_error(r, 405);
        return serve_file(s, r, file, &st, rel);
}

bool static_serve(const StaticFiles *s, Request *r) {
        size_t uri_len;

        if (!static_files_active(s))
                return false;
        const char *uri = request_get_var(r, "REQUEST_URI", &uri_len);
        if (!uri || uri_len == 0 || uri[0] != '/')
                return false; /* an absolute-form or odd target: the app's */
        const char *q = memchr(uri, '?', uri_len);
        size_t path_len = q ? (size_t) (q - uri) : uri_len;
        _cleanup_free_ char *rel = malloc(path_len + s->index_max + 2);
        if (!rel)
                return static_error(r, 503);

        for (size_t i = 0; i < s->n_rules; i++) {
                const StaticRule *rule = &s->rules[i];
                const char *rest = uri;
                size_t rest_len = path_len;

                /* A mount point matches whole segments: /static is not /staticfoo. */
                if (rule->kind != STATIC_CHECK &&
                    (path_len < rule->mount_len || memcmp(uri, rule->mount, rule->mount_len) != 0 ||
                     (path_len > rule->mount_len && uri[rule->mount_len] != '/')))
                        continue;
                if (rule->kind == STATIC_MAP) {
                        rest += rule->mount_len;
                        rest_len -= rule->mount_len;
                }
                int k = static_path_normalize(rest, rest_len, rel, path_len + 1);
                if (k < 0) {
                        /* check-static covers every URL, the app's too: what cannot be a file
                         * is left to it. Under a mount point it is an attack or a mistake. */
                        if (rule->kind == STATIC_CHECK)
                                continue;
                        log_debug("static path '%.*s' refused: %s", (int) path_len, uri,
                                  strerror(-k));
                        return static_error(r, k == -EINVAL ? 400 : 404);
                }
                if (skipped_ext(s, rel))
                        return false;
                if (serve_rule(s, rule, r, rel) > 0)
                        return true;
        }
        return false;
}
