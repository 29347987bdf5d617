/* SPDX-License-Identifier: MIT */
#pragma once

/* Listening sockets, as uWSGI names them: ":8080" (every IPv4 address), "127.0.0.1:8080",
 * "[::1]:8080", "localhost:8080", "/run/app.sock" or "@abstract" (unix). Shared by the vassal,
 * which binds its own sockets standalone, and the emperor, which binds them for its vassals. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Parses ADDR into a sockaddr; returns 0 or -EINVAL. A host name is resolved (blocking: call
 * it at startup or in a child, never in an event handler that must not wait). */
int sockaddr_parse(const char *address, struct sockaddr_storage *ret, socklen_t *ret_len);

/* Binds and listens, non-blocking and close-on-exec. A stale unix socket file is replaced (a
 * regular file never is); mode (>= 0) and owner ("user[:group]", NULL for none) apply to unix
 * sockets. *ret_unix_path is the socket file we created (to remove later), or NULL. Returns
 * the fd or -errno (-EINVAL for a bad address, -ENOENT for an unknown owner). */
int socket_listen(const char *address, int backlog, int mode, const char *owner,
                  char **ret_unix_path);

/* Which file a socket path named when it was made (dev, inode): what may be removed later. */
typedef struct SocketFileId {
        dev_t dev;
        ino_t ino;
} SocketFileId;

/* How a supervisor makes unix socket files for others (the emperor, for its vassals). */
typedef struct SocketRules {
        /* Made, and removed, by a child process running as uid:gid (its primary group only):
         * the file can be made, and a stale one replaced, only where that user could, and a
         * path through symlinks leads only where that user may go. */
        bool as_user;
        uid_t uid;
        gid_t gid;
        /* Socket files never replaced (they are taken: -EADDRINUSE). */
        const SocketFileId *keep;
        size_t n_keep;
        /* A directory in which, or under which, no socket is made (-EPERM); NULL: none. */
        const SocketFileId *forbidden_dir;
} SocketRules;

/* socket_listen() by the rules (NULL: as ourselves, none), the socket file's identity at
 * *ret_id (may be NULL). The mode is set through the umask at bind() and the owner with
 * lchown(): nothing done by path after the bind follows a symlink. */
int socket_listen_as(const char *address, int backlog, int mode, const char *owner,
                     const SocketRules *rules, char **ret_unix_path, SocketFileId *ret_id);
/* Removes a socket file socket_listen_as() made, if path still names that file (else
 * -ESTALE: replaced, not ours), with the same rules' rights. */
int socket_unlink_as(const char *path, const SocketFileId *id, const SocketRules *rules);

/* TCP_NODELAY and TCP_DEFER_ACCEPT on a TCP listener; nothing on others. */
void socket_tune(int fd);

/* Whether the socket fd is bound to what address names (for sockets inherited through
 * LISTEN_FDS). */
bool socket_matches(int fd, const char *address);

/* Whether the socket is bound to a loopback address (127/8, ::1) or is a unix socket: reachable
 * from this machine only. */
bool socket_is_local(int fd);

/* The kernel's net.core.somaxconn: the default listen backlog. */
int socket_somaxconn(void);
