/* SPDX-License-Identifier: MIT */
#pragma once

/* A listening socket in an sd-event loop that no client can wedge. It accepts what is queued
 * (a bounded batch per wake-up), hands each connection to its owner, and:
 *  - when the descriptor table is full (EMFILE, ENFILE) or memory is short, it stops accepting
 *    for a moment and tries again: a level-triggered listener that cannot accept would be
 *    woken again at once and spin a core;
 *  - with max_clients, it takes the listener out of the loop while that many connections are
 *    open, and puts it back when one closes (connections wait in the kernel's backlog).
 * The emperor's control socket and HTTP listener and the vassal's stats server use it. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct Acceptor Acceptor;

/* Takes a new connection (non-blocking, close-on-exec). Returns 0 when the owner keeps it
 * (and will call acceptor_client_gone() when it closes it), or < 0 when it did not take it:
 * the acceptor closes fd then. */
typedef int (*acceptor_handler_t)(Acceptor *a, int fd, void *userdata);

typedef struct AcceptorOptions {
        unsigned max_clients; /* 0: no bound here (the owner refuses what it must) */
        uint64_t pause_usec;  /* after EMFILE/ENFILE/ENOMEM; 0: 100 ms */
} AcceptorOptions;

/* fd stays the caller's. */
int acceptor_new(sd_event *e, int fd, const AcceptorOptions *o, acceptor_handler_t handler,
                 void *userdata, Acceptor **ret);
Acceptor *acceptor_free(Acceptor *a);
/* One connection the owner kept is closed. */
void acceptor_client_gone(Acceptor *a);
unsigned acceptor_clients(const Acceptor *a);
/* Whether it is pausing after the descriptor table was full (for tests and logs). */
bool acceptor_paused(const Acceptor *a);
