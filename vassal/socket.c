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
#include "sockutil.h"

static int listener_bind(Listener *l, const VassalConfig *c, int backlog) {
        int fd = socket_listen(l->address, backlog, c->chmod_socket, c->chown_socket,
                               &l->unix_path);
        if (fd == -ENOENT && c->chown_socket)
                return log_error_errno(fd, "chown-socket '%s': no such user or group",
                                       c->chown_socket);
        if (fd < 0)
                return log_error_errno(fd, "Failed to bind '%s': %m", l->address);
        l->fd = fd;
        l->tcp = l->unix_path == NULL && l->address[0] != '@';
        return 0;
}

/* The emperor, systemd or our own previous master (a reload) passes sockets from fd 3 on:
 * named in LISTEN_FDNAMES when a supervisor names them, else found by what they are bound
 * to (the position is tried first: the emperor passes them in ini order, http first). */
static int listener_adopt(Listener *l, size_t index, int n_fds, char **names, bool *used) {
        int fd = -1;

        if (names) {
                for (int i = 0; i < n_fds && names[i]; i++)
                        if (!used[i] && streq(names[i], l->address)) {
                                fd = SD_LISTEN_FDS_START + i;
                                break;
                        }
        } else {
                if ((int) index < n_fds && !used[index] &&
                    socket_matches(SD_LISTEN_FDS_START + (int) index, l->address))
                        fd = SD_LISTEN_FDS_START + (int) index;
                for (int i = 0; fd < 0 && i < n_fds; i++)
                        if (!used[i] && socket_matches(SD_LISTEN_FDS_START + i, l->address))
                                fd = SD_LISTEN_FDS_START + i;
        }
        if (fd < 0)
                return 0;
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                return log_error_errno(EBADF, "Inherited fd %d for '%s' is not a listening socket",
                                       fd, l->address);
        if (!socket_matches(fd, l->address))
                return log_error_errno(EBADF, "Inherited fd %d is not bound to '%s'", fd,
                                       l->address);
        used[fd - SD_LISTEN_FDS_START] = true;
        /* After a reload, a unix socket file the previous master made is still ours. */
        const char *owned = getenv("VASSAL_UNIX_OWNED");
        size_t al = strlen(l->address);
        for (const char *p = l->address[0] != '@' ? owned : NULL; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t) (nl - p) : strlen(p);
                if (n == al && memcmp(p, l->address, n) == 0) {
                        l->unix_path = strdup(l->address);
                        break;
                }
                p += n + (nl != NULL);
        }
        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        int domain = 0;
        socklen_t len = sizeof(domain);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0)
                l->tcp = domain != AF_UNIX;
        socket_tune(fd);
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

        int backlog = c->listen > 0 ? (int) c->listen : socket_somaxconn();
        if (c->listen > socket_somaxconn())
                log_warning("listen = %d is above the system's somaxconn %d: the kernel caps the "
                            "queue at %d (raise net.core.somaxconn)",
                            (int) c->listen, socket_somaxconn(), socket_somaxconn());

        int n_fds = sd_listen_fds_with_names(0, &names);
        if (n_fds < 0)
                n_fds = 0;
        bool used[256] = {};
        n_fds = MIN(n_fds, (int) ELEMENTSOF(used));
        if (!getenv("LISTEN_FDNAMES")) {
                /* Without names libsystemd says "unknown" for each: adopt by position. */
                for (int i = 0; names && names[i]; i++)
                        free(names[i]);
                names = mfree(names);
        }

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
                r = n_fds > 0 ? listener_adopt(l, i, n_fds, names, used) : 0;
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
        unsetenv("VASSAL_UNIX_OWNED");
        /* Sockets passed to us that the config no longer names (a reload dropped them). */
        for (int i = 0; i < n_fds; i++)
                if (!used[i]) {
                        log_info("inherited fd %d is not in the config any more, closing it",
                                 SD_LISTEN_FDS_START + i);
                        safe_close(SD_LISTEN_FDS_START + i);
                }
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
                /* unix_path is set only for socket files we made (or made before a reload). */
                if (unlink_unix && l->unix_path)
                        (void) unlink(l->unix_path);
                free(l->unix_path);
                free(l->address);
        }
        free(set->items);
        *set = (ListenerSet) {};
}
