/* SPDX-License-Identifier: MIT */
#pragma once

/* A vassal's ini as the programs around it read it: the emperor (its sockets, which it binds;
 * who it runs as; how long its graceful stop may take) and emperorctl (where it logs, while it
 * does not run to say so itself). The keys are the vassal's own module tables (lib/vkeys.h),
 * with its aliases, bounds and defaults, read from the same [uwsgi]/[vassal] sections with the
 * same interpolation (lib/ini.h). Everything else is the vassal's business: unknown keys are
 * not reported here, `vassal --check` validates the whole file. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

typedef struct VassalIni {
        /* SOCKET */
        char **http_sockets;
        char **uwsgi_sockets;
        int chmod_socket; /* -1: none */
        char *chown_socket;
        int64_t listen;   /* 0: somaxconn */
        /* CREDENTIALS: names or numbers, for lib/users.h */
        char *uid;
        char *gid;
        /* STOP, seconds */
        int64_t reload_mercy;
        int64_t worker_reload_mercy;
        /* LOGGING */
        bool disable_logging;
        char *logto;
        uint64_t log_maxsize;
        char *log_backupname;
        int64_t log_maxbackups;
        bool log_compress;
        bool log_reopen;
        char **touch_logreopen;
        char *daemonize;
        /* WORKDIR */
        char *chdir;
} VassalIni;

/* Reads path's [uwsgi]/[vassal] section (or FILE:SECTION's). Returns 0, or -errno with the
 * reason (file:line messages, one per line) in *ret_error (malloc'd). */
int vini_load(VassalIni *v, const char *path, char **ret_error);
/* The same for text in memory; name plays the file's path (%d %n %p %s, messages). */
int vini_load_string(VassalIni *v, const char *name, const char *text, size_t len,
                     char **ret_error);
/* Frees the fields; v is left with the defaults, as after a load of an empty section. */
void vini_done(VassalIni *v);

/* The sockets in the order the vassal adopts them (http sockets first, then uwsgi). */
size_t vini_sockets(const VassalIni *v, const char **ret, size_t max);

/* The table vini_load() applies, for the fuzzer and the tests. */
const ConfOption *vini_table(size_t *ret_n);
