/* SPDX-License-Identifier: MIT */
#pragma once

/* Listening sockets, as uWSGI names them: ":8080" (every IPv4 address), "127.0.0.1:8080",
 * "[::1]:8080", "localhost:8080", "/run/app.sock" or "@abstract" (unix). Shared by the vassal,
 * which binds its own sockets standalone, and the emperor, which binds them for its vassals. */

#include <stdbool.h>
#include <sys/socket.h>

/* Parses ADDR into a sockaddr; returns 0 or -EINVAL. A host name is resolved (blocking: call
 * it at startup or in a child, never in an event handler that must not wait). */
int sockaddr_parse(const char *address, struct sockaddr_storage *ret, socklen_t *ret_len);

/* Binds and listens, non-blocking and close-on-exec. A stale unix socket file is replaced (a
 * regular file never is); mode (>= 0) and owner ("user[:group]", NULL for none) apply to unix
 * sockets. *ret_unix_path is the socket file we created (to remove later), or NULL. Returns
 * the fd or -errno (-EINVAL for a bad address, -ENOENT for an unknown owner). */
int socket_listen(const char *address, int backlog, int mode, const char *owner,
                  char **ret_unix_path);

/* TCP_NODELAY and TCP_DEFER_ACCEPT on a TCP listener; nothing on others. */
void socket_tune(int fd);

/* Whether the socket fd is bound to what address names (for sockets inherited through
 * LISTEN_FDS). */
bool socket_matches(int fd, const char *address);

/* The kernel's net.core.somaxconn: the default listen backlog. */
int socket_somaxconn(void);
