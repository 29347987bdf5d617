/* SPDX-License-Identifier: MIT */
#pragma once

/* The vassal's listening sockets: parse "ADDR" strings the way uWSGI does (":8080" is every
 * IPv4 address, "127.0.0.1:8080", "[::1]:8080", "localhost:8080", "/run/app.sock" or
 * "@abstract" for unix sockets), bind them, or adopt them from LISTEN_FDS when a supervisor
 * (the emperor, systemd) bound them for us. */

#include <stdbool.h>
#include <sys/socket.h>

typedef enum SocketProto {
        SOCKET_HTTP,
        SOCKET_UWSGI,
} SocketProto;

typedef struct Listener {
        int fd;
        SocketProto proto;
        char *address;    /* as configured */
        char *unix_path;  /* bound unix socket path, for removal at exit; NULL otherwise */
        bool inherited;   /* came from LISTEN_FDS */
        bool tcp;
} Listener;

typedef struct ListenerSet {
        Listener *items;
        size_t n;
} ListenerSet;

typedef struct VassalConfig VassalConfig;

/* Binds (or adopts) every socket the config names. Returns 0 or -errno (logged). */
int listeners_open(ListenerSet *set, const VassalConfig *c);
/* Closes the sockets and, for those we bound ourselves, removes unix socket files. */
void listeners_close(ListenerSet *set, bool unlink_unix);
