/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "sockutil.h"
#include "socks.h"

struct Sock {
        char *address;
        int fd;
        char *unix_path;
        SocketFileId id;    /* the file at unix_path we made */
        SocketRules rules;  /* whose rights removing it takes (keep lists not kept) */
        Sock *prev, *next;  /* in all_socks */
        unsigned refs;
};

/* Every socket file held for any vassal: one vassal never takes over another's. */
static Sock *all_socks;

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
        if (s->unix_path) {
                /* Only if it is still the file we made: a path swapped since (a directory
                 * of its owner's replaced by a symlink) leads somewhere not ours. */
                int r = keep_files ? 0 : socket_unlink_as(s->unix_path, &s->id, &s->rules);
                /* Gone already, or replaced (someone else's now): nothing to say. */
                if (r < 0 && r != -ENOENT && r != -ESTALE)
                        log_warning_errno(r, "Cannot remove the socket file '%s': %m; it is left "
                                             "behind", s->unix_path);
                if (s->prev)
                        s->prev->next = s->next;
                else
                        all_socks = s->next;
                if (s->next)
                        s->next->prev = s->prev;
        }
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

static bool set_holds(const SockSet *set, const Sock *s) {
        for (size_t k = 0; k < set->n; k++)
                if (set->socks[k] == s)
                        return true;
        return false;
}

/* What the rules keep: the socket files of every other vassal, and the emperor's own. */
static SocketFileId *keep_list(Manager *m, const SockSet *held, size_t *ret_n) {
        _cleanup_free_ char *control = NULL;
        const char *own[] = { manager_notify_path(m), manager_reports_path(m), NULL };
        size_t n = 0, cap = ELEMENTSOF(own);

        if (asprintf(&control, "%s/control.sock", manager_run_dir(m)) < 0)
                return NULL;
        own[2] = control;
        for (Sock *s = all_socks; s; s = s->next)
                cap++;
        SocketFileId *ids = calloc(cap, sizeof(SocketFileId));
        if (!ids)
                return NULL;
        for (Sock *s = all_socks; s; s = s->next)
                if (!set_holds(held, s))
                        ids[n++] = s->id;
        for (size_t k = 0; k < ELEMENTSOF(own); k++) {
                struct stat st;
                if (own[k] && lstat(own[k], &st) == 0)
                        ids[n++] = (SocketFileId) { st.st_dev, st.st_ino };
        }
        *ret_n = n;
        return ids;
}

int socks_bind(Manager *m, const SockSet *held, const VassalIni *v, const SockOwner *as,
               SockSet *ret, char **ret_error) {
        const char *addrs[64];
        size_t n = vini_sockets(v, addrs, ELEMENTSOF(addrs));
        int backlog = v->listen > 0 ? (int) v->listen : socket_somaxconn();
        SockSet set = { calloc(n ? n : 1, sizeof(Sock *)), 0 };
        SocketRules rules = {};
        SocketFileId run_dir;
        struct stat st;

        *ret_error = NULL;
        if (!set.socks)
                return -ENOMEM;
        _cleanup_free_ SocketFileId *keep = keep_list(m, held, &rules.n_keep);
        if (!keep) {
                free(set.socks);
                return -ENOMEM;
        }
        rules.keep = keep;
        if (as) {
                rules.as_user = true;
                rules.uid = as->uid;
                rules.gid = as->gid;
                if (stat(manager_run_dir(m), &st) == 0) {
                        run_dir = (SocketFileId) { st.st_dev, st.st_ino };
                        rules.forbidden_dir = &run_dir;
                }
        }
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
                s->fd = socket_listen_as(addrs[k], backlog, v->chmod_socket, v->chown_socket,
                                         &rules, &s->unix_path, &s->id);
                if (s->fd < 0) {
                        int r = s->fd;
                        bool file = strchr(addrs[k], '/') != NULL;
                        const char *why = r == -EADDRINUSE && file
                                                  ? "in use (another vassal's or the emperor's "
                                                    "socket, or not a socket)"
                                          : r == -EPERM && rules.forbidden_dir
                                                  ? "not allowed (the emperor's run directory)"
                                                  : strerror(-r);
                        if (asprintf(ret_error, "cannot bind '%s': %s", addrs[k], why) < 0)
                                *ret_error = NULL;
                        free(s->address);
                        free(s);
                        socks_release(&set);
                        return r;
                }
                s->refs = 1;
                if (s->unix_path) {
                        s->rules = (SocketRules) { .as_user = rules.as_user,
                                                   .uid = rules.uid, .gid = rules.gid };
                        s->next = all_socks;
                        if (all_socks)
                                all_socks->prev = s;
                        all_socks = s;
                }
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
                struct stat st;
                if (s->unix_path && lstat(s->unix_path, &st) >= 0 && S_ISSOCK(st.st_mode)) {
                        /* Held again: no other vassal may take it, and it is removed only
                         * while it is still this file. */
                        s->id = (SocketFileId) { st.st_dev, st.st_ino };
                        s->next = all_socks;
                        if (all_socks)
                                all_socks->prev = s;
                        all_socks = s;
                } else
                        s->unix_path = mfree(s->unix_path);
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
