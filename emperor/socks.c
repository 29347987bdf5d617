/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "sockutil.h"
#include "socks.h"

struct Sock {
        char *address;
        int fd;
        char *unix_path;
        unsigned refs;
};

static Sock *socks_ref(Sock *s) {
        s->refs++;
        return s;
}

/* Set when the emperor leaves its fleet running (a detach, an upgrade): the vassals keep
 * serving on these sockets, so their files stay. */
static bool keep_files;

void socks_keep_files(void) {
        keep_files = true;
}

static void socks_unref(Sock *s) {
        if (!s || --s->refs > 0)
                return;
        safe_close(s->fd);
        if (s->unix_path && !keep_files)
                (void) unlink(s->unix_path);
        free(s->unix_path);
        free(s->address);
        free(s);
}

void socks_release(SockSet *s) {
        for (size_t k = 0; k < s->n; k++)
                socks_unref(s->socks[k]);
        free(s->socks);
        *s = (SockSet) {};
}

int socks_copy(const SockSet *s, size_t max, SockSet *ret) {
        size_t n = MIN(s->n, max);
        Sock **set = calloc(n ? n : 1, sizeof(Sock *));
        if (!set)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++)
                set[k] = socks_ref(s->socks[k]);
        *ret = (SockSet) { set, n };
        return 0;
}

int socks_bind(const SockSet *held, const VassalIni *v, SockSet *ret, char **ret_error) {
        const char *addrs[64];
        size_t n = vini_sockets(v, addrs, ELEMENTSOF(addrs));
        int backlog = v->listen > 0 ? (int) v->listen : socket_somaxconn();
        SockSet set = { calloc(n ? n : 1, sizeof(Sock *)), 0 };

        *ret_error = NULL;
        if (!set.socks)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                Sock *found = NULL;
                for (size_t j = 0; j < held->n && !found; j++)
                        if (streq(held->socks[j]->address, addrs[k]))
                                found = held->socks[j];
                if (found) {
                        set.socks[set.n++] = socks_ref(found);
                        continue;
                }
                Sock *s = calloc(1, sizeof(Sock));
                if (!s || !(s->address = strdup(addrs[k]))) {
                        free(s);
                        socks_release(&set);
                        return -ENOMEM;
                }
                s->fd = socket_listen(addrs[k], backlog, v->chmod_socket, v->chown_socket,
                                      &s->unix_path);
                if (s->fd < 0) {
                        int r = s->fd;
                        if (asprintf(ret_error, "cannot bind '%s': %s", addrs[k], strerror(-r)) < 0)
                                *ret_error = NULL;
                        free(s->address);
                        free(s);
                        socks_release(&set);
                        return r;
                }
                s->refs = 1;
                set.socks[set.n++] = s;
        }
        *ret = set;
        return 0;
}

int socks_adopt(char *const *addresses, int *fds, size_t n, SockSet *ret) {
        SockSet set = { calloc(n ? n : 1, sizeof(Sock *)), 0 };
        if (!set.socks)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                Sock *s = calloc(1, sizeof(Sock));
                if (!s || !(s->address = strdup(addresses[k])) ||
                    (addresses[k][0] == '/' && !(s->unix_path = strdup(addresses[k])))) {
                        if (s)
                                free(s->address);
                        free(s);
                        socks_release(&set);
                        return -ENOMEM;
                }
                s->fd = TAKE_FD(fds[k]);
                s->refs = 1;
                set.socks[set.n++] = s;
        }
        *ret = set;
        return 0;
}

const char *socks_address(const SockSet *s, size_t k) {
        return k < s->n ? s->socks[k]->address : NULL;
}

int socks_fd(const SockSet *s, size_t k) {
        return k < s->n ? s->socks[k]->fd : -1;
}
