/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "log.h"
#include "socket.h"

static bool address_is_unix(const char *address) {
        return address[0] == '/' || address[0] == '@' || address[0] == '.' ||
               strchr(address, '/') != NULL;
}

int socket_address_parse(const char *address, struct sockaddr_storage *ret, socklen_t *ret_len) {
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

static int somaxconn(void) {
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
        _cleanup_free_ char *user = strdup(spec);
        if (!user)
                return -ENOMEM;
        char *group = strchr(user, ':');
        if (group)
                *group++ = 0;

        uid_t uid = (uid_t) -1;
        gid_t gid = (gid_t) -1;
        if (*user) {
                struct passwd *pw = getpwnam(user);
                char *end;
                if (pw) {
                        uid = pw->pw_uid;
                        gid = pw->pw_gid;
                } else {
                        uid = strtoul(user, &end, 10);
                        if (*end)
                                return log_error_errno(ENOENT, "chown-socket: no user '%s'", user);
                }
        }
        if (group && *group) {
                struct group *gr = getgrnam(group);
                char *end;
                if (gr)
                        gid = gr->gr_gid;
                else {
                        gid = strtoul(group, &end, 10);
                        if (*end)
                                return log_error_errno(ENOENT, "chown-socket: no group '%s'",
                                                       group);
                }
        }
        if (chown(path, uid, gid) < 0)
                return log_error_errno(errno, "Failed to chown '%s' to '%s': %m", path, spec);
        return 0;
}

/* Per-listener socket options, inherited by every accepted connection (Linux copies them),
 * so they cost nothing per request: TCP_NODELAY because a response leaves in one writev and
 * must not wait for a delayed ACK; TCP_DEFER_ACCEPT so accept() returns once the request's
 * first bytes are there, saving a wakeup and an empty read per connection. */
static void listener_tune(Listener *l, int fd) {
        int one = 1, defer = 1;
        if (!l->tcp)
                return;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
}

static int listener_bind(Listener *l, const VassalConfig *c, int backlog) {
        struct sockaddr_storage sa;
        socklen_t salen;
        int r;

        r = socket_address_parse(l->address, &sa, &salen);
        if (r < 0)
                return log_error_errno(r, "Invalid socket address '%s'", l->address);

        _cleanup_close_ int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create socket for '%s': %m", l->address);

        if (sa.ss_family == AF_UNIX) {
                const char *path = ((struct sockaddr_un *) &sa)->sun_path;
                if (path[0]) {
                        /* A stale socket file from a previous run would make bind fail. Only
                         * remove sockets, never a regular file someone pointed us at. */
                        struct stat st;
                        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                                (void) unlink(path);
                }
        } else {
                int one = 1;
                l->tcp = true;
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (sa.ss_family == AF_INET6)
                        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        }

        if (bind(fd, (struct sockaddr *) &sa, salen) < 0)
                return log_error_errno(errno, "Failed to bind '%s': %m", l->address);
        /* Only a socket we created is ours to remove at exit (never a file that was there). */
        if (sa.ss_family == AF_UNIX && ((struct sockaddr_un *) &sa)->sun_path[0]) {
                l->unix_path = strdup(((struct sockaddr_un *) &sa)->sun_path);
                if (!l->unix_path)
                        return -ENOMEM;
        }

        if (l->unix_path) {
                if (c->chmod_socket >= 0 && chmod(l->unix_path, c->chmod_socket) < 0)
                        return log_error_errno(errno, "Failed to chmod '%s': %m", l->unix_path);
                if (c->chown_socket) {
                        r = chown_socket(l->unix_path, c->chown_socket);
                        if (r < 0)
                                return r;
                }
        }
        if (listen(fd, backlog) < 0)
                return log_error_errno(errno, "Failed to listen on '%s': %m", l->address);
        listener_tune(l, fd);

        l->fd = TAKE_FD(fd);
        return 0;
}

/* The emperor (or systemd) passes our sockets from fd 3 on, named in LISTEN_FDNAMES by the
 * address string of the ini; without names, in ini order, http sockets first. */
static int listener_adopt(Listener *l, size_t index, int n_fds, char **names) {
        int fd = -1;

        if (names) {
                for (int i = 0; i < n_fds && names[i]; i++)
                        if (streq(names[i], l->address)) {
                                fd = SD_LISTEN_FDS_START + i;
                                break;
                        }
        } else if ((int) index < n_fds)
                fd = SD_LISTEN_FDS_START + index;
        if (fd < 0)
                return 0;
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                return log_error_errno(EBADF, "Inherited fd %d for '%s' is not a listening socket",
                                       fd, l->address);
        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        int domain = 0;
        socklen_t len = sizeof(domain);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0)
                l->tcp = domain != AF_UNIX;
        listener_tune(l, fd);
        l->fd = fd;
        l->inherited = true;
        return 1;
}

int listeners_open(ListenerSet *set, const VassalConfig *c) {
        size_t n_http = 0, n_uwsgi = 0;
        char **names = NULL;
        int r;

        for (char **s = c->http_sockets; s && *s; s++)
                n_http++;
        for (char **s = c->uwsgi_sockets; s && *s; s++)
                n_uwsgi++;

        set->items = calloc(n_http + n_uwsgi, sizeof(Listener));
        if (!set->items)
                return log_oom();

        int backlog = c->listen > 0 ? (int) c->listen : somaxconn();
        if (c->listen > somaxconn())
                log_warning("listen = %d is above the system's somaxconn %d: the kernel caps the "
                            "queue at %d (raise net.core.somaxconn)",
                            (int) c->listen, somaxconn(), somaxconn());

        int n_fds = sd_listen_fds_with_names(0, &names);
        if (n_fds < 0)
                n_fds = 0;

        for (size_t i = 0; i < n_http + n_uwsgi; i++) {
                Listener *l = &set->items[i];
                l->fd = -1;
                l->proto = i < n_http ? SOCKET_HTTP : SOCKET_UWSGI;
                l->address = strdup(i < n_http ? c->http_sockets[i] : c->uwsgi_sockets[i - n_http]);
                set->n++;
                if (!l->address) {
                        r = log_oom();
                        goto finish;
                }
                r = n_fds > 0 ? listener_adopt(l, i, n_fds, names) : 0;
                if (r < 0)
                        goto finish;
                if (r == 0) {
                        r = listener_bind(l, c, backlog);
                        if (r < 0)
                                goto finish;
                }
                log_info("%s socket '%s' on fd %d%s", l->proto == SOCKET_HTTP ? "http" : "uwsgi",
                         l->address, l->fd, l->inherited ? " (inherited)" : "");
        }
        r = 0;
finish:
        for (int i = 0; names && names[i]; i++)
                free(names[i]);
        free(names);
        return r;
}

void listeners_close(ListenerSet *set, bool unlink_unix) {
        for (size_t i = 0; i < set->n; i++) {
                Listener *l = &set->items[i];
                safe_close(l->fd);
                if (unlink_unix && l->unix_path && !l->inherited)
                        (void) unlink(l->unix_path);
                free(l->unix_path);
                free(l->address);
        }
        free(set->items);
        *set = (ListenerSet) {};
}
