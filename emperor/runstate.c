/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "jsonutil.h"
#include "log.h"
#include "macro.h"
#include "runstate.h"
#include "sockutil.h"

#define ENTRY_MAX (256 * 1024)

static int read_file(const char *path, char *buf, size_t size, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        size_t len = 0;
        if (fd < 0)
                return -errno;
        while (len < size - 1) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = 0;
        if (ret_len)
                *ret_len = len;
        return 0;
}

int runstate_identify(pid_t pid, uint64_t *ret_start_ticks, char boot_id[40]) {
        char path[64], buf[1024];
        int r;

        r = read_file("/proc/sys/kernel/random/boot_id", buf, sizeof(buf), NULL);
        if (r < 0)
                return r;
        buf[strcspn(buf, "\n")] = 0;
        if (strlen(buf) >= 40)
                return -EIO;
        strcpy(boot_id, buf);
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        r = read_file(path, buf, sizeof(buf), NULL);
        if (r < 0)
                return r;
        /* "pid (comm) state ppid ...": comm may hold anything, so fields count from the last
         * ')'; starttime is field 22, the 20th after it. */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        p++;
        /* A zombie is gone, whoever has yet to reap it. */
        if (p[1] == 'Z' || p[1] == 'X')
                return -ESRCH;
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EIO;
        }
        char *end;
        errno = 0;
        unsigned long long t = strtoull(p + 1, &end, 10);
        if (errno || end == p + 1)
                return -EIO;
        *ret_start_ticks = t;
        return 0;
}

static char *u64_string(uint64_t v, char buf[24]) {
        snprintf(buf, 24, "%" PRIu64, v);
        return buf;
}

static bool u64_from(const cJSON *o, const char *key, uint64_t *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        char *end;
        if (!cJSON_IsString(v) || !v->valuestring[0])
                return false;
        errno = 0;
        *ret = strtoull(v->valuestring, &end, 10);
        return errno == 0 && *end == 0;
}

static int entry_path(const char *run_dir, const char *name, pid_t pid, char **ret) {
        if (pid > 0)
                return asprintf(ret, "%s/vassals/%s.%d.json", run_dir, name, (int) pid) < 0
                               ? -ENOMEM
                               : 0;
        return asprintf(ret, "%s/vassals", run_dir) < 0 ? -ENOMEM : 0;
}

int runstate_save(const char *run_dir, const RunState *s) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *tmp = NULL, *text = NULL;
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        char b[6][24];
        cJSON *key, *socks;

        if (!o || entry_path(run_dir, NULL, 0, &dir) < 0 ||
            entry_path(run_dir, s->name, s->pid, &path) < 0 ||
            asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return log_warning_errno(errno, "Cannot create '%s': %m", dir);
        if (!cJSON_AddStringToObject(o, "name", s->name) ||
            !cJSON_AddStringToObject(o, "ini", s->ini) ||
            !cJSON_AddNumberToObject(o, "pid", s->pid) ||
            !cJSON_AddStringToObject(o, "start_ticks", u64_string(s->start_ticks, b[0])) ||
            !cJSON_AddStringToObject(o, "boot_id", s->boot_id) ||
            !cJSON_AddBoolToObject(o, "serving", s->serving) ||
            !cJSON_AddNumberToObject(o, "seq", s->seq) ||
            !cJSON_AddNumberToObject(o, "uid", s->uid) ||
            !cJSON_AddNumberToObject(o, "gid", s->gid) ||
            (s->cgroup && !cJSON_AddStringToObject(o, "cgroup", s->cgroup)) ||
            !(key = cJSON_AddObjectToObject(o, "ini_key")) ||
            !cJSON_AddStringToObject(key, "hash", u64_string(s->key.hash, b[0])) ||
            !cJSON_AddStringToObject(key, "mtime_ns", u64_string((uint64_t) s->key.mtime_ns, b[1])) ||
            !cJSON_AddStringToObject(key, "ctime_ns", u64_string((uint64_t) s->key.ctime_ns, b[2])) ||
            !cJSON_AddStringToObject(key, "size", u64_string(s->key.size, b[3])) ||
            !cJSON_AddStringToObject(key, "ino", u64_string(s->key.ino, b[4])) ||
            !cJSON_AddStringToObject(key, "dev", u64_string(s->key.dev, b[5])) ||
            !(socks = cJSON_AddArrayToObject(o, "sockets")))
                return -ENOMEM;
        for (size_t k = 0; k < s->n_socks; k++) {
                cJSON *a = cJSON_CreateString(s->addresses[k]);
                if (!a || !cJSON_AddItemToArray(socks, a)) {
                        cJSON_Delete(a);
                        return -ENOMEM;
                }
        }
        text = cJSON_PrintUnformatted(o);
        if (!text)
                return -ENOMEM;
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                                      0600);
        if (fd < 0)
                return log_warning_errno(errno, "Cannot write '%s': %m", tmp);
        size_t len = strlen(text);
        if (write(fd, text, len) != (ssize_t) len || rename(tmp, path) < 0) {
                int r = log_warning_errno(errno, "Cannot write '%s': %m", path);
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

void runstate_remove(const char *run_dir, const char *name, pid_t pid) {
        _cleanup_free_ char *path = NULL;
        if (entry_path(run_dir, name, pid, &path) >= 0)
                (void) unlink(path);
}

void runstate_done(RunState *s) {
        free(s->name);
        free(s->ini);
        free(s->cgroup);
        for (size_t k = 0; k < s->n_socks; k++)
                free(s->addresses[k]);
        *s = (RunState) {};
}

void runstate_free_all(RunState *s, size_t n) {
        for (size_t k = 0; k < n; k++)
                runstate_done(&s[k]);
        free(s);
}

static char *dup_string(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static int entry_parse(const char *text, RunState *s) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_Parse(text);
        const cJSON *pid, *serving, *seq, *uid, *gid, *key, *socks, *boot, *a;
        uint64_t u[7];

        *s = (RunState) {};
        if (!cJSON_IsObject(o))
                return -EBADMSG;
        pid = cJSON_GetObjectItemCaseSensitive(o, "pid");
        serving = cJSON_GetObjectItemCaseSensitive(o, "serving");
        seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
        uid = cJSON_GetObjectItemCaseSensitive(o, "uid");
        gid = cJSON_GetObjectItemCaseSensitive(o, "gid");
        key = cJSON_GetObjectItemCaseSensitive(o, "ini_key");
        socks = cJSON_GetObjectItemCaseSensitive(o, "sockets");
        boot = cJSON_GetObjectItemCaseSensitive(o, "boot_id");
        s->name = dup_string(o, "name");
        s->ini = dup_string(o, "ini");
        if (!s->name || !s->ini || !cJSON_IsNumber(pid) || pid->valuedouble < 2 ||
            pid->valuedouble > 4194304 || !cJSON_IsBool(serving) || !cJSON_IsNumber(seq) ||
            !cJSON_IsNumber(uid) || !cJSON_IsNumber(gid) || !cJSON_IsArray(socks) ||
            !cJSON_IsString(boot) || strlen(boot->valuestring) >= sizeof(s->boot_id) ||
            !u64_from(o, "start_ticks", &u[0]) || !u64_from(key, "hash", &u[1]) ||
            !u64_from(key, "mtime_ns", &u[2]) || !u64_from(key, "ctime_ns", &u[3]) ||
            !u64_from(key, "size", &u[4]) || !u64_from(key, "ino", &u[5]) ||
            !u64_from(key, "dev", &u[6]) || cJSON_GetArraySize(socks) > RUNSTATE_SOCKS_MAX) {
                runstate_done(s);
                return -EBADMSG;
        }
        s->pid = (pid_t) pid->valuedouble;
        s->serving = cJSON_IsTrue(serving);
        s->seq = (unsigned) seq->valuedouble;
        s->uid = (uid_t) uid->valuedouble;
        s->gid = (gid_t) gid->valuedouble;
        s->cgroup = dup_string(o, "cgroup");
        strcpy(s->boot_id, boot->valuestring);
        s->start_ticks = u[0];
        s->key = (ScanKey) { .hash = u[1], .mtime_ns = (int64_t) u[2], .ctime_ns = (int64_t) u[3],
                             .size = u[4], .ino = u[5], .dev = u[6] };
        cJSON_ArrayForEach(a, socks) {
                if (!cJSON_IsString(a) || !(s->addresses[s->n_socks] = strdup(a->valuestring))) {
                        runstate_done(s);
                        return -EBADMSG;
                }
                s->n_socks++;
        }
        return 0;
}

int runstate_load_all(const char *run_dir, RunState **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL;
        RunState *all = NULL;
        size_t n = 0;

        *ret = NULL;
        *ret_n = 0;
        if (entry_path(run_dir, NULL, 0, &dir) < 0)
                return -ENOMEM;
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_free_ char *text = malloc(ENTRY_MAX);
        if (!text) {
                closedir(d);
                return -ENOMEM;
        }
        for (struct dirent *de; (de = readdir(d));) {
                size_t len = strlen(de->d_name);
                if (de->d_name[0] == '.' || len < 6 || !streq(de->d_name + len - 5, ".json"))
                        continue;
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
                        break;
                RunState s;
                if (read_file(path, text, ENTRY_MAX, NULL) < 0 || entry_parse(text, &s) < 0) {
                        log_warning("'%s': not a vassal record, removed", path);
                        (void) unlink(path);
                        continue;
                }
                RunState *more = reallocarray(all, n + 1, sizeof(RunState));
                if (!more) {
                        runstate_done(&s);
                        break;
                }
                all = more;
                all[n++] = s;
        }
        closedir(d);
        *ret = all;
        *ret_n = n;
        return 0;
}

/* Whether the NUL-separated environment block holds the exact entry. */
static bool environ_has(const char *env, size_t len, const char *entry) {
        size_t el = strlen(entry);
        for (size_t off = 0; off < len;) {
                const char *e = env + off;
                size_t n = strnlen(e, len - off);
                if (n == el && memcmp(e, entry, el) == 0)
                        return true;
                off += n + 1;
        }
        return false;
}

int runstate_verify(const RunState *s, const char *reports_path, char *why, size_t why_size) {
        char boot[40], path[64];
        uint64_t ticks;
        int r;

        _cleanup_close_ int pidfd = (int) pidfd_open(s->pid, 0);
        if (pidfd < 0) {
                snprintf(why, why_size, "pid %d is gone", (int) s->pid);
                return -ESRCH;
        }
        /* With the pidfd held, the pid cannot be reused under us: what we read next is of
         * the process the pidfd names. */
        r = runstate_identify(s->pid, &ticks, boot);
        if (r < 0) {
                snprintf(why, why_size, "pid %d is gone", (int) s->pid);
                return -ESRCH;
        }
        if (!streq(boot, s->boot_id)) {
                snprintf(why, why_size, "recorded before a reboot");
                return -ESTALE;
        }
        if (ticks != s->start_ticks) {
                snprintf(why, why_size, "pid %d is another process now (started at %" PRIu64
                         ", recorded %" PRIu64 ")", (int) s->pid, ticks, s->start_ticks);
                return -ESTALE;
        }
        if (s->cgroup) {
                char cg[4096];
                snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) s->pid);
                /* The unified hierarchy's line, "0::/path" (first or last of several on a
                 * hybrid system). */
                char *line = NULL;
                if (read_file(path, cg, sizeof(cg), NULL) >= 0)
                        line = strncmp(cg, "0::", 3) == 0 ? cg : strstr(cg, "\n0::");
                if (!line) {
                        snprintf(why, why_size, "pid %d: cannot read its cgroup", (int) s->pid);
                        return -EPERM;
                }
                line += line == cg ? 3 : 4;
                line[strcspn(line, "\n")] = 0;
                size_t a = strlen(s->cgroup), b = strlen(line);
                if (b <= 1 || b > a || !streq(s->cgroup + a - b, line)) {
                        snprintf(why, why_size, "pid %d is not in its cgroup (%s)", (int) s->pid,
                                 line);
                        return -EPERM;
                }
        }
        _cleanup_free_ char *env = malloc(ENTRY_MAX), *name = NULL, *stats = NULL;
        size_t len;
        snprintf(path, sizeof(path), "/proc/%d/environ", (int) s->pid);
        if (!env || asprintf(&name, "EMPEROR_VASSAL=%s", s->name) < 0 ||
            asprintf(&stats, "EMPEROR_STATS_SOCKET=%s", reports_path) < 0)
                return -ENOMEM;
        if (read_file(path, env, ENTRY_MAX, &len) < 0 || !environ_has(env, len, name) ||
            !environ_has(env, len, stats)) {
                snprintf(why, why_size, "pid %d is not vassal '%s' of this emperor", (int) s->pid,
                         s->name);
                return -EPERM;
        }
        return TAKE_FD(pidfd);
}

int runstate_take_socket(const RunState *s, int pidfd, size_t k) {
        if (k >= s->n_socks)
                return -EINVAL;
        int fd = (int) pidfd_getfd(pidfd, 3 + (int) k, 0);
        if (fd < 0)
                return -errno;
        if (!socket_matches(fd, s->addresses[k])) {
                safe_close(fd);
                return -EBADF;
        }
        return fd;
}
