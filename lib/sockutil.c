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
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"
#include "sockutil.h"
#include "users.h"

/* As uWSGI (and lib/vkeys.c's check): a '/' anywhere, or no ':' at all ("app.sock"). */
static bool address_is_unix(const char *address) {
        return address[0] == '/' || address[0] == '@' || address[0] == '.' ||
               strchr(address, '/') != NULL || strchr(address, ':') == NULL;
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

/* Whether dir, or a directory above it, is the one id names. Walks up through "..", so the
 * answer is about the directories the path resolves to, whatever symlinks led there. */
static bool dir_is_within(const char *dir, const SocketFileId *id) {
        int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        bool within = false;

        for (int depth = 0; fd >= 0 && depth < 256 && !within; depth++) {
                struct stat st, up;
                if (fstat(fd, &st) < 0)
                        break;
                within = st.st_dev == id->dev && st.st_ino == id->ino;
                int parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (parent < 0 || fstat(parent, &up) < 0 ||
                    (up.st_dev == st.st_dev && up.st_ino == st.st_ino)) {
                        safe_close(parent);
                        break; /* the root */
                }
                safe_close(fd);
                fd = parent;
        }
        safe_close(fd);
        return within;
}

static bool id_listed(const SocketFileId *ids, size_t n, const struct stat *st) {
        for (size_t k = 0; k < n; k++)
                if (ids[k].dev == st->st_dev && ids[k].ino == st->st_ino)
                        return true;
        return false;
}

/* Makes the socket file: with the caller's rights, whoever that is (the emperor's child
 * running as the vassal's owner, in tyrant mode). The mode comes from the umask at bind(), so
 * no chmod() by path ever follows a symlink put there after the bind; the owner is set with
 * lchown(). Returns 0 with the file's identity, or -errno. */
static int bind_unix(int fd, const struct sockaddr_storage *sa, socklen_t salen, const char *path,
                     int mode, uid_t uid, gid_t gid, const SocketRules *rules,
                     SocketFileId *ret_id) {
        struct stat st;
        int r = 0;

        if (rules && rules->forbidden_dir) {
                char dir[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
                const char *slash = strrchr(path, '/');
                if (!slash)
                        strcpy(dir, ".");
                else if (slash == path)
                        strcpy(dir, "/");
                else
                        snprintf(dir, sizeof(dir), "%.*s", (int) (slash - path), path);
                if (dir_is_within(dir, rules->forbidden_dir))
                        return -EPERM;
        }
        /* A stale socket file from a previous run would make bind fail. Only a socket is
         * removed, never a regular file someone pointed us at, nor a socket that is not ours
         * to take (another vassal's, the emperor's). */
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
                if (rules && id_listed(rules->keep, rules->n_keep, &st))
                        return -EADDRINUSE;
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
        }
        mode_t old = mode >= 0 ? umask(~(mode_t) mode & 0777) : 0;
        if (bind(fd, (const struct sockaddr *) sa, salen) < 0)
                r = -errno;
        if (mode >= 0)
                (void) umask(old);
        if (r < 0)
                return r;
        if ((uid != (uid_t) -1 || gid != (gid_t) -1) &&
            fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                r = -errno;
        if (r >= 0 && lstat(path, &st) < 0)
                r = -errno;
        if (r >= 0 && !S_ISSOCK(st.st_mode))
                r = -EEXIST; /* swapped under us: not ours */
        if (r < 0) {
                if (r != -EEXIST)
                        (void) unlink(path);
                return r;
        }
        *ret_id = (SocketFileId) { st.st_dev, st.st_ino };
        return 0;
}

/* What the child that runs as the vassal's owner reports. */
typedef struct AsUserResult {
        int error;
        SocketFileId id;
} AsUserResult;

/* Becomes the user (its primary group only, as the vassal does). Async-signal-safe. */
static int become(uid_t uid, gid_t gid) {
        if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return -errno;
        return 0;
}

/* Runs bind_unix() (unlink: when id is given, removes the file if it is still that one) in a
 * child running as rules->uid:rules->gid, and waits for it: a few system calls, no more. The
 * socket is shared with the child (same open file), so its bind is ours. */
static int as_user(int fd, const struct sockaddr_storage *sa, socklen_t salen, const char *path,
                   int mode, uid_t uid, gid_t gid, const SocketRules *rules,
                   const SocketFileId *unlink_id, SocketFileId *ret_id) {
        int p[2];
        AsUserResult res = { .error = -EIO };

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(p[0]);
                safe_close(p[1]);
                return r;
        }
        if (pid == 0) {
                safe_close(p[0]);
                res.error = become(rules->uid, rules->gid);
                if (res.error >= 0 && unlink_id) {
                        struct stat st;
                        res.error = 0;
                        if (lstat(path, &st) == 0 && st.st_dev == unlink_id->dev &&
                            st.st_ino == unlink_id->ino && unlink(path) < 0)
                                res.error = -errno;
                } else if (res.error >= 0)
                        res.error = bind_unix(fd, sa, salen, path, mode, uid, gid, rules, &res.id);
                (void) !write(p[1], &res, sizeof(res));
                _exit(0);
        }
        safe_close(p[1]);
        ssize_t n;
        do
                n = read(p[0], &res, sizeof(res));
        while (n < 0 && errno == EINTR);
        safe_close(p[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (n != (ssize_t) sizeof(res))
                return -EIO;
        if (res.error >= 0 && ret_id)
                *ret_id = res.id;
        return res.error;
}

int socket_listen_as(const char *address, int backlog, int mode, const char *owner,
                     const SocketRules *rules, char **ret_unix_path, SocketFileId *ret_id) {
        struct sockaddr_storage sa;
        socklen_t salen;
        uid_t uid = (uid_t) -1;
        gid_t gid = (gid_t) -1;
        SocketFileId id = {};
        int r;

        *ret_unix_path = NULL;
        r = sockaddr_parse(address, &sa, &salen);
        if (r < 0)
                return r;
        if (owner) {
                r = owner_resolve(owner, &uid, &gid);
                if (r < 0)
                        return r;
        }

        _cleanup_close_ int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;

        const char *path = sa.ss_family == AF_UNIX ? ((struct sockaddr_un *) &sa)->sun_path : NULL;
        _cleanup_free_ char *created = NULL;
        if (path && path[0]) {
                if (rules && rules->as_user)
                        r = as_user(fd, &sa, salen, path, mode, uid, gid, rules, NULL, &id);
                else
                        r = bind_unix(fd, &sa, salen, path, mode, uid, gid, rules, &id);
                if (r < 0)
                        return r;
                /* Only a socket we created is ours to remove later. */
                created = strdup(path);
                if (!created) {
                        (void) socket_unlink_as(path, &id, rules);
                        return -ENOMEM;
                }
        } else {
                if (!path) {
                        int one = 1;
                        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                        if (sa.ss_family == AF_INET6)
                                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                }
                if (bind(fd, (struct sockaddr *) &sa, salen) < 0)
                        return -errno;
        }
        if (listen(fd, backlog) < 0) {
                r = -errno;
                if (created)
                        (void) socket_unlink_as(created, &id, rules);
                return r;
        }
        socket_tune(fd);
        *ret_unix_path = TAKE_PTR(created);
        if (ret_id)
                *ret_id = id;
        return TAKE_FD(fd);
}

int socket_listen(const char *address, int backlog, int mode, const char *owner,
                  char **ret_unix_path) {
        return socket_listen_as(address, backlog, mode, owner, NULL, ret_unix_path, NULL);
}

int socket_unlink_as(const char *path, const SocketFileId *id, const SocketRules *rules) {
        struct stat st;

        if (rules && rules->as_user)
                return as_user(-1, NULL, 0, path, -1, (uid_t) -1, (gid_t) -1, rules, id, NULL);
        if (lstat(path, &st) < 0)
                return -errno;
        if (st.st_dev != id->dev || st.st_ino != id->ino)
                return -ESTALE; /* replaced since: someone else's now */
        return unlink(path) < 0 ? -errno : 0;
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

bool socket_is_local(int fd) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return false;
        if (sa.ss_family == AF_UNIX)
                return true;
        if (sa.ss_family == AF_INET)
                return (ntohl(((struct sockaddr_in *) &sa)->sin_addr.s_addr) >> 24) == 127;
        if (sa.ss_family == AF_INET6)
                return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *) &sa)->sin6_addr);
        return false;
}
