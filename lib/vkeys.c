/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

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

/* A host name as DNS allows it: dot-separated labels of letters, digits and '-', none empty
 * or longer than 63, at most 253 in all. All digits and dots is an IPv4 address, checked as
 * one (999.1.1.1 is neither). */
static bool vkeys_host_valid(const char *host, size_t n) {
        size_t label = 0;
        bool digits_only = true;

        if (n == 0 || n > 253)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = host[i];
                if (ch == '.') {
                        if (label == 0)
                                return false;
                        label = 0;
                        continue;
                }
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '-'))
                        return false;
                if (!(ch >= '0' && ch <= '9'))
                        digits_only = false;
                if (++label > 63)
                        return false;
        }
        if (label == 0 && n > 0 && host[n - 1] == '.')
                return false;
        if (digits_only) {
                char ip[16];
                struct in_addr a;
                if (n >= sizeof(ip))
                        return false;
                memcpy(ip, host, n);
                ip[n] = 0;
                return inet_pton(AF_INET, ip, &a) == 1;
        }
        return true;
}

int vkeys_parse_address(const ConfOption *opt, const char *value, void *field,
                        const char **ret_expected) {
        const char *colon;
        size_t n = strlen(value), hl;

        (void) opt;
        (void) field;
        if (n == 0) {
                *ret_expected = "an address (HOST:PORT, :PORT or a unix socket path)";
                return -EINVAL;
        }
        colon = strrchr(value, ':');
        /* As uWSGI: a '/' or no ':' at all is a unix socket, '@' an abstract one. */
        if (value[0] == '/' || value[0] == '@' || value[0] == '.' || strchr(value, '/') ||
            !colon) {
                if (n >= sizeof(((struct sockaddr_un *) NULL)->sun_path)) {
                        *ret_expected = "a unix socket path of at most 107 bytes";
                        return -EINVAL;
                }
                return 0;
        }

        const char *port = colon + 1;
        size_t digits = strspn(port, "0123456789");
        if (digits == 0 || port[digits] || digits > 5 || strtoul(port, NULL, 10) > 65535) {
                *ret_expected = "a port between 0 and 65535 after the last ':' (HOST:PORT or "
                                ":PORT)";
                return -EINVAL;
        }
        hl = (size_t) (colon - value);
        if (hl == 0 || (hl == 1 && value[0] == '*'))
                return 0;
        if (value[0] == '[') {
                char ip6[INET6_ADDRSTRLEN + 1];
                struct in6_addr a6;
                if (hl < 3 || value[hl - 1] != ']' || hl - 2 >= sizeof(ip6)) {
                        *ret_expected = "an IPv6 address in brackets, as in [::1]:8080";
                        return -EINVAL;
                }
                memcpy(ip6, value + 1, hl - 2);
                ip6[hl - 2] = 0;
                if (inet_pton(AF_INET6, ip6, &a6) != 1) {
                        *ret_expected = "an IPv6 address in brackets, as in [::1]:8080";
                        return -EINVAL;
                }
                return 0;
        }
        if (memchr(value, ':', hl)) {
                *ret_expected = "an IPv6 address in brackets, as in [::1]:8080";
                return -EINVAL;
        }
        if (!vkeys_host_valid(value, hl)) {
                *ret_expected = "an IPv4 address or a host name before the ':' (HOST:PORT)";
                return -EINVAL;
        }
        return 0;
}
