/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"
#include "sockutil.h"
#include "users.h"

static bool address_is_unix(const char *address) {
        return address[0] == '/' || address[0] == '@' || address[0] == '.' ||
               strchr(address, '/') != NULL;
}

int sockaddr_parse(const char *address, struct sockaddr_storage *ret, socklen_t *ret_len) {
        memset(ret, 0, sizeof(*ret));

        if (address_is_unix(address)) {
                struct sockaddr_un *un = (struct sockaddr_un *) ret;
                size_t n = strlen(address);
                if (n == 0 || n >= sizeof(un->sun_path))
                        return -EINVAL;
                un->sun_family = AF_UNIX;
                memcpy(un->sun_path, address, n);
                if (address[0] == '@')
                        un->sun_path[0] = 0; /* abstract namespace */
                *ret_len = offsetof(struct sockaddr_un, sun_path) + n + (address[0] != '@');
                return 0;
        }

        const char *colon = strrchr(address, ':');
        if (!colon || !colon[1])
                return -EINVAL;
        char *end;
        errno = 0;
        unsigned long port = strtoul(colon + 1, &end, 10);
        if (*end || errno || port > 65535)
                return -EINVAL;

        char host[256];
        size_t hl = colon - address;
        if (hl >= sizeof(host))
                return -EINVAL;
        memcpy(host, address, hl);
        host[hl] = 0;

        if (host[0] == '[') { /* [::1]:8080 */
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ret;
                if (hl < 3 || host[hl - 1] != ']')
                        return -EINVAL;
                host[hl - 1] = 0;
                if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
                        return -EINVAL;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                *ret_len = sizeof(*in6);
                return 0;
        }

        struct sockaddr_in *in = (struct sockaddr_in *) ret;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        *ret_len = sizeof(*in);
        if (hl == 0 || streq(host, "*") || streq(host, "0.0.0.0")) {
                in->sin_addr.s_addr = htonl(INADDR_ANY);
                return 0;
        }
        if (inet_pton(AF_INET, host, &in->sin_addr) == 1)
                return 0;

        /* A host name: resolved once, at startup, where blocking is fine. */
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
        if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai)
                return -EINVAL;
        memcpy(ret, ai->ai_addr, ai->ai_addrlen);
        *ret_len = ai->ai_addrlen;
        if (ret->ss_family == AF_INET)
                ((struct sockaddr_in *) ret)->sin_port = htons(port);
        else if (ret->ss_family == AF_INET6)
                ((struct sockaddr_in6 *) ret)->sin6_port = htons(port);
        freeaddrinfo(ai);
        return 0;
}

int socket_somaxconn(void) {
        FILE *f = fopen("/proc/sys/net/core/somaxconn", "re");
        int v = 0;
        if (f) {
                if (fscanf(f, "%d", &v) != 1)
                        v = 0;
                fclose(f);
        }
        return v > 0 ? v : 4096;
}

static int chown_socket(const char *path, const char *spec) {
        uid_t uid;
        gid_t gid;
        int r = owner_resolve(spec, &uid, &gid);

        if (r < 0)
                return r;
        if (chown(path, uid, gid) < 0)
                return -errno;
        return 0;
}

void socket_tune(int fd) {
        int one = 1, defer = 1, domain = 0;
        socklen_t len = sizeof(domain);

        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain == AF_UNIX)
                return;
        /* Inherited by every accepted connection (Linux copies them), so they cost nothing per
         * request: TCP_NODELAY because a response leaves in one writev and must not wait for a
         * delayed ACK; TCP_DEFER_ACCEPT so accept() returns once the request's first bytes are
         * there, saving a wakeup and an empty read per connection. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
}

int socket_listen(const char *address, int backlog, int mode, const char *owner,
                  char **ret_unix_path) {
        struct sockaddr_storage sa;
        socklen_t salen;
        int r;

        *ret_unix_path = NULL;
        r = sockaddr_parse(address, &sa, &salen);
        if (r < 0)
                return r;

        _cleanup_close_ int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;

        const char *path = sa.ss_family == AF_UNIX ? ((struct sockaddr_un *) &sa)->sun_path : NULL;
        if (path && path[0]) {
                /* A stale socket file from a previous run would make bind fail. Only remove
                 * sockets, never a regular file someone pointed us at. */
                struct stat st;
                if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                        (void) unlink(path);
        } else if (!path) {
                int one = 1;
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (sa.ss_family == AF_INET6)
                        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        }

        if (bind(fd, (struct sockaddr *) &sa, salen) < 0)
                return -errno;

        _cleanup_free_ char *created = NULL;
        if (path && path[0]) {
                /* Only a socket we created is ours to remove later. */
                created = strdup(path);
                if (!created)
                        return -ENOMEM;
                if (mode >= 0 && chmod(path, mode) < 0)
                        r = -errno;
                if (r >= 0 && owner)
                        r = chown_socket(path, owner);
                if (r < 0) {
                        (void) unlink(path);
                        return r;
                }
        }
        if (listen(fd, backlog) < 0) {
                r = -errno;
                if (created)
                        (void) unlink(created);
                return r;
        }
        socket_tune(fd);
        *ret_unix_path = TAKE_PTR(created);
        return TAKE_FD(fd);
}

/* Compares what two sockaddrs name: family, address and port (unix: the path). */
static bool sockaddr_equal(const struct sockaddr_storage *a, socklen_t alen,
                           const struct sockaddr_storage *b, socklen_t blen) {
        if (a->ss_family != b->ss_family)
                return false;
        switch (a->ss_family) {
        case AF_INET: {
                const struct sockaddr_in *x = (const void *) a, *y = (const void *) b;
                return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
        }
        case AF_INET6: {
                const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;
                return x->sin6_port == y->sin6_port &&
                       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
        }
        case AF_UNIX: {
                size_t off = offsetof(struct sockaddr_un, sun_path);
                const struct sockaddr_un *x = (const void *) a, *y = (const void *) b;
                size_t xl = alen > off ? alen - off : 0, yl = blen > off ? blen - off : 0;
                /* Path sockets may or may not count the final NUL. */
                while (xl > 0 && x->sun_path[0] && x->sun_path[xl - 1] == 0)
                        xl--;
                while (yl > 0 && y->sun_path[0] && y->sun_path[yl - 1] == 0)
                        yl--;
                return xl == yl && memcmp(x->sun_path, y->sun_path, xl) == 0;
        }
        default:
                return false;
        }
}

bool socket_matches(int fd, const char *address) {
        struct sockaddr_storage want, have;
        socklen_t wl, hl = sizeof(have);

        if (sockaddr_parse(address, &want, &wl) < 0)
                return false;
        if (getsockname(fd, (struct sockaddr *) &have, &hl) < 0)
                return false;
        return sockaddr_equal(&want, wl, &have, hl);
}
