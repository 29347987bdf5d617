/* SPDX-License-Identifier: MIT */
#pragma once

/* The listening sockets the emperor holds for its vassals. A vassal's set is bound from its ini
 * (vini_sockets()); a socket the instance holds already is reused, the same fd, so no
 * connection is refused across a reload. Each process given a socket and the instance's
 * current set hold a reference; the last one closes it (and removes a unix socket file we
 * made). */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "manager.h"
#include "vini.h"

typedef struct Sock Sock;

typedef struct SockSet {
        Sock **socks;
        size_t n;
} SockSet;

/* The user whose rights a vassal's unix socket files are made (and removed) with, in tyrant
 * mode: in a child running as that user (lib/sockutil.h SocketRules), never in RUN_DIR. */
typedef struct SockOwner {
        uid_t uid;
        gid_t gid;
} SockOwner;

/* The set for v's sockets, reusing held's; as NULL: bound by the emperor itself. A socket file
 * another vassal holds, or one of the emperor's own (control, notify, stats), is never
 * replaced (-EADDRINUSE). Returns 0, or -errno with *ret_error (malloc'd, may be NULL) saying
 * which address failed. */
int socks_bind(Manager *m, const SockSet *held, const VassalIni *v, const SockOwner *as,
               SockSet *ret, char **ret_error);
/* Another reference to each of s's sockets, at most max of them. */
int socks_copy(const SockSet *s, size_t max, SockSet *ret);
/* Drops the set's references; s is empty after. */
void socks_release(SockSet *s);

/* A set of sockets taken back from a running vassal by a new emperor (runstate.h): fds[k] is
 * bound to addresses[k] (the fds are taken; a unix socket's file is ours to remove again). */
int socks_adopt(char *const *addresses, int *fds, size_t n, SockSet *ret);
/* From now on no socket file is removed: the emperor leaves, its vassals keep serving. */
void socks_keep_files(void);

const char *socks_address(const SockSet *s, size_t k);
int socks_fd(const SockSet *s, size_t k);
