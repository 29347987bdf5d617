/* SPDX-License-Identifier: MIT */
#pragma once

/* What the emperor needs to know of a vassal's ini: its sockets (the emperor binds them), who
 * it runs as, and how long its graceful stop may take. Everything else is the vassal's own
 * business: `vassal --check` validates the whole file. */

#include <stdbool.h>
#include <stdint.h>

typedef struct VassalIni {
        char **http_sockets;
        char **uwsgi_sockets;
        int chmod_socket; /* -1: none */
        char *chown_socket;
        int64_t listen;
        char *uid;
        char *gid;
        int64_t reload_mercy; /* seconds */
        bool compat;          /* unused flags land here */
} VassalIni;

/* Reads path's [uwsgi]/[vassal] section. Returns 0, or -errno with the reason (file:line
 * messages, one per line) in *ret_error (malloc'd). Unknown keys are the vassal's. */
int vini_load(VassalIni *v, const char *path, char **ret_error);
void vini_done(VassalIni *v);

/* The sockets in the order the vassal adopts them (http sockets first, then uwsgi). */
size_t vini_sockets(const VassalIni *v, const char **ret, size_t max);
