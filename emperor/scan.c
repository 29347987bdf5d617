/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "proto.h"
#include "scan.h"

/* An ini larger than this is not one. */
#define SCAN_MAX_SIZE (1024 * 1024)

bool scan_name_is_ini(const char *file, char *ret_name, size_t size) {
        size_t n = strlen(file);
        /* ".x.ini", ".#x.ini" (emacs), "x.ini~", "x.ini.swp", "4913" (vim's probe) all fail here. */
        if (file[0] == '.' || n <= 4 || n - 4 >= size || strcmp(file + n - 4, ".ini") != 0)
                return false;
        memcpy(ret_name, file, n - 4);
        ret_name[n - 4] = 0;
        return proto_name_valid(ret_name);
}

/* FNV-1a, 64 bits: tells edits apart, which is all it is for. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
        const unsigned char *c = p;
        for (size_t i = 0; i < n; i++) {
                h ^= c[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

static int hash_file(int dirfd, const char *file, uint64_t *ret) {
        _cleanup_close_ int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        char buf[16384];
        uint64_t h = 0xcbf29ce484222325ULL, total = 0;

        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                total += n;
                if (total > SCAN_MAX_SIZE)
                        return -EFBIG;
                h = hash_bytes(h, buf, n);
        }
        *ret = h;
        return 0;
}

/* The name as it can be shown anywhere: a newline or an escape sequence in a file name must
 * not forge a log line or a terminal's state. */
static char *escape_name(const char *s) {
        size_t n = strlen(s), cut = MIN(n, (size_t) 160);
        char *out = malloc(cut * 4 + 4), *o = out;
        if (!out)
                return NULL;
        for (size_t k = 0; k < cut; k++) {
                unsigned char c = (unsigned char) s[k];
                if (c >= 0x20 && c < 0x7f && c != '\\')
                        *o++ = (char) c;
                else
                        o += sprintf(o, "\\x%02x", c);
        }
        if (cut < n)
                o += sprintf(o, "...");
        *o = 0;
        return out;
}

/* gcc 12's -fanalyzer loses the strings once stored in the caller's array and calls them
 * leaked; scan_ignored_free() frees them. */
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static void ignore(ScanIgnored **list, size_t *n, const char *file, const char *reason) {
        if (!list)
                return;
        _cleanup_free_ char *f = escape_name(file), *why = strdup(reason);
        if (!f || !why)
                return;
        ScanIgnored *l = reallocarray(*list, *n + 1, sizeof(ScanIgnored));
        if (!l)
                return;
        *list = l;
        l[(*n)++] = (ScanIgnored) { TAKE_PTR(f), TAKE_PTR(why) };
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void scan_ignored_free(ScanIgnored *e, size_t n) {
        for (size_t k = 0; e && k < n; k++) {
                free(e[k].file);
                free(e[k].reason);
        }
        free(e);
}

int scan_dir(const char *dir, ScanEntry **ret, size_t *ret_n) {
        return scan_dir_full(dir, NULL, NULL, ret, ret_n, NULL, NULL);
}

int scan_dir_full(const char *dir, ScanKnownFunc known, void *userdata, ScanEntry **ret,
                  size_t *ret_n, ScanIgnored **ret_ignored, size_t *ret_n_ignored) {
        ScanEntry *list = NULL;
        size_t n = 0, allocated = 0;
        char name[256];

        if (ret_ignored) {
                *ret_ignored = NULL;
                *ret_n_ignored = 0;
        }
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                if (!scan_name_is_ini(de->d_name, name, sizeof(name))) {
                        size_t len = strlen(de->d_name);
                        if (de->d_name[0] != '.' && len > 4 && streq(de->d_name + len - 4, ".ini"))
                                ignore(ret_ignored, ret_n_ignored, de->d_name,
                                       "not a vassal name (at most 128 bytes, no spaces, "
                                       "slashes or control characters)");
                        continue;
                }
                struct stat st;
                /* Following symlinks: a symlinked ini works, and so does a directory whose
                 * files point into a "..data" link that is swapped (Kubernetes ConfigMaps). */
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0) {
                        log_debug_errno(errno, "Skipping '%s/%s': %m", dir, de->d_name);
                        if (errno != ENOENT)
                                ignore(ret_ignored, ret_n_ignored, de->d_name, strerror(errno));
                        continue;
                }
                if (!S_ISREG(st.st_mode)) {
                        ignore(ret_ignored, ret_n_ignored, de->d_name, "not a regular file");
                        continue;
                }
                ScanKey key = {
                        .mtime_ns = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                        .ctime_ns = (int64_t) st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec,
                        .size = st.st_size,
                        .ino = st.st_ino,
                        .dev = st.st_dev,
                };
                const ScanKey *was = known ? known(userdata, name) : NULL;
                int r = 0;
                if (st.st_size > SCAN_MAX_SIZE)
                        r = -EFBIG;
                else if (was && was->mtime_ns == key.mtime_ns && was->ctime_ns == key.ctime_ns &&
                         was->size == key.size && was->ino == key.ino && was->dev == key.dev)
                        key.hash = was->hash; /* unchanged since: not read again */
                else
                        r = hash_file(dirfd(d), de->d_name, &key.hash);
                if (r < 0) {
                        /* Said once by the manager (it compares scans), not every scan. */
                        ignore(ret_ignored, ret_n_ignored, de->d_name,
                               r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
                        continue;
                }
                if (n == allocated) {
                        allocated = allocated ? allocated * 2 : 16;
                        ScanEntry *l = reallocarray(list, allocated, sizeof(*l));
                        if (!l)
                                goto oom;
                        list = l;
                }
                ScanEntry *e = &list[n];
                *e = (ScanEntry) { .key = key, .uid = st.st_uid, .gid = st.st_gid };
                e->name = strdup(name);
                if (asprintf(&e->path, "%s/%s", dir, de->d_name) < 0)
                        e->path = NULL;
                n++;
                if (!e->name || !e->path)
                        goto oom;
        }
        closedir(d);
        *ret = list;
        *ret_n = n;
        return 0;
oom:
        closedir(d);
        scan_free(list, n);
        return -ENOMEM;
}

void scan_free(ScanEntry *e, size_t n) {
        for (size_t i = 0; e && i < n; i++) {
                free(e[i].name);
                free(e[i].path);
        }
        free(e);
}
