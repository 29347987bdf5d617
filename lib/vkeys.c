/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "vkeys.h"

char *vkeys_path_join(const char *dir, const char *path) {
        size_t n;
        char *s;

        if (!dir || !dir[0] || path[0] == '/')
                return strdup(path);
        n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
                n--;
        if (asprintf(&s, "%.*s%s%s", (int) n, dir, dir[n - 1] == '/' ? "" : "/", path) < 0)
                return NULL;
        return s;
}

int vkeys_log_path(const char *logto, const char *daemonize, const char *chdir, const char *cwd,
                   char **ret) {
        _cleanup_free_ char *dir = NULL;
        const char *file;

        *ret = NULL;
        /* As vassal/logger.c: logto, else daemonize's file. An empty value names no file (the
         * vassal would fail to open it). */
        file = logto && logto[0] ? logto : daemonize && daemonize[0] ? daemonize : NULL;
        if (!file)
                return 0;
        if (file[0] == '/') {
                *ret = strdup(file);
                return *ret ? 1 : -ENOMEM;
        }
        /* The vassal opens its log after chdir: relative to chdir, itself relative to where
         * it started. Joined as written (not normalised): the kernel resolves "a/../b" from
         * cwd exactly as it resolves "cwd/a/../b", since cwd is a physical path. */
        if (chdir && chdir[0]) {
                dir = vkeys_path_join(cwd, chdir);
                if (!dir)
                        return -ENOMEM;
        } else if (cwd) {
                dir = strdup(cwd);
                if (!dir)
                        return -ENOMEM;
        }
        *ret = vkeys_path_join(dir, file);
        if (!*ret)
                return -ENOMEM;
        return (*ret)[0] == '/' ? 1 : -EADDRNOTAVAIL;
}
