/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"

/* The cgroup2 mount point, from /proc/self/mountinfo. */
static int cgroup2_mount(char *ret, size_t size) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096];
        int r = -ENOENT;
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                /* ... mount-point ... - fstype source options */
                char *dash = strstr(line, " - cgroup2 ");
                if (!dash)
                        continue;
                char *p = line;
                for (int field = 0; field < 4 && p; field++) {
                        p = strchr(p, ' ');
                        if (p)
                                p++;
                }
                if (!p)
                        continue;
                size_t n = strcspn(p, " ");
                if (n >= size)
                        continue;
                memcpy(ret, p, n);
                ret[n] = 0;
                r = 0;
                break;
        }
        fclose(f);
        return r;
}

static int own_cgroup(char *ret, size_t size) {
        FILE *f = fopen("/proc/self/cgroup", "re");
        char line[4096];
        int r = -ENOENT;
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = 0;
                        size_t n = strlen(line + 3);
                        if (n >= size)
                                break;
                        memcpy(ret, line + 3, n + 1);
                        r = 0;
                        break;
                }
        fclose(f);
        return r;
}

static int write_file(const char *dir, const char *file, const char *value) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, value, strlen(value));
        int r = n < 0 ? -errno : 0;
        close(fd);
        return r;
}

bool cgroup_empty(const char *path) {
        char file[4096], buf[256];
        snprintf(file, sizeof(file), "%s/cgroup.procs", path);
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return true;
        ssize_t n = read(fd, buf, sizeof(buf));
        close(fd);
        return n <= 0;
}

void cgroup_kill(const char *path) {
        if (write_file(path, "cgroup.kill", "1") >= 0)
                return;
        /* Before Linux 5.14: kill what is listed, until nothing is. */
        for (int round = 0; round < 16; round++) {
                char file[4096];
                snprintf(file, sizeof(file), "%s/cgroup.procs", path);
                FILE *f = fopen(file, "re");
                int pid, killed = 0;
                if (!f)
                        return;
                while (fscanf(f, "%d", &pid) == 1) {
                        (void) kill(pid, SIGKILL);
                        killed++;
                }
                fclose(f);
                if (killed == 0)
                        return;
        }
}

int cgroup_remove(const char *path) {
        return rmdir(path) < 0 ? -errno : 0;
}

char *cgroup_create(const char *root, const char *name) {
        char *path;
        if (asprintf(&path, "%s/%s", root, name) < 0)
                return NULL;
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                log_debug_errno(errno, "Failed to create cgroup '%s': %m", path);
                free(path);
                return NULL;
        }
        return path;
}

char *cgroup_setup(const char *run_dir, char *const *keep, size_t n_keep) {
        char mount[1024], own[2048], root[4096];
        uint32_t h = 2166136261u;
        int r;

        /* One tree per emperor, named after its run dir: emperors with different run dirs on
         * one machine never touch each other's vassals. */
        for (const char *c = run_dir; *c; c++)
                h = (h ^ (unsigned char) *c) * 16777619u;

        r = cgroup2_mount(mount, sizeof(mount));
        if (r >= 0)
                r = own_cgroup(own, sizeof(own));
        if (r < 0) {
                log_debug_errno(r, "No cgroup v2 hierarchy: stopping vassals by process group");
                return NULL;
        }
        snprintf(root, sizeof(root), "%s%s/emperor-%08x", mount, streq(own, "/") ? "" : own, h);
        if (mkdir(root, 0755) < 0 && errno != EEXIST) {
                log_debug_errno(errno, "Cannot create '%s': %m; stopping vassals by process group",
                                root);
                return NULL;
        }
        /* Groups left by an emperor on this run dir that died: their processes are orphans. */
        DIR *d = opendir(root);
        if (d) {
                for (struct dirent *de; (de = readdir(d));) {
                        if (de->d_name[0] == '.' || de->d_type != DT_DIR)
                                continue;
                        char sub[8192];
                        snprintf(sub, sizeof(sub), "%s/%s", root, de->d_name);
                        bool kept = false;
                        for (size_t k = 0; k < n_keep && !kept; k++)
                                kept = keep[k] && streq(keep[k], sub);
                        if (kept)
                                continue; /* an adopted vassal's */
                        cgroup_kill(sub);
                        for (int i = 0; i < 100 && !cgroup_empty(sub); i++)
                                usleep(10000); /* startup only, before the loop runs */
                        (void) rmdir(sub);
                }
                closedir(d);
        }
        return strdup(root);
}
