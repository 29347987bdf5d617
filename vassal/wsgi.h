/* SPDX-License-Identifier: MIT */
#pragma once

/* The only module that talks to CPython. The interpreter is initialised in the master (or in
 * each worker with lazy-apps), the app is imported once, workers fork from it, and each worker
 * thread keeps one persistent thread state: it takes the GIL only around calls into Python and
 * releases it around every socket operation. */

#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "request.h"

typedef struct WsgiThread WsgiThread;

/* Initialises the interpreter for the config's virtualenv and paths. Returns 0 or -errno
 * (reported). */
int wsgi_init(const VassalConfig *c);
/* Imports the app (module or wsgi-file) and finds its callable. Returns 0, or -ENOENT with the
 * traceback logged: the vassal exits EX_CONFIG. */
int wsgi_load_app(const VassalConfig *c);
bool wsgi_initialized(void);
/* The first failure of wsgi_init() or wsgi_load_app(), one line ("Failed to import the app
 * 'x': ModuleNotFoundError: No module named 'y'"), or NULL. */
const char *wsgi_error(void);

/* Around fork(), when the interpreter exists (CPython's own fork protocol). */
void wsgi_before_fork(void);
void wsgi_after_fork_parent(void);
void wsgi_after_fork_child(void);
/* In a worker, after the app is ready: the main thread lets go of the GIL for good. */
void wsgi_release_main(void);
/* py-autoreload: whether a module this process imported (sys.modules, the app's wsgi-file
 * among them) has a source file modified after since; its path in buf then. */
bool wsgi_module_changed(const struct timespec *since, char *buf, size_t size);
/* Logs every other Python thread's stack (harakiri-verbose, SIGUSR2), taking the GIL for the
 * while: from a thread that holds no Python state of its own in use (the worker's main). */
void wsgi_log_stacks(void);

/* In each worker thread: its thread state and per-thread objects. NULL on failure (logged). */
WsgiThread *wsgi_thread_new(const VassalConfig *c);
void wsgi_thread_free(WsgiThread *t);

/* Runs the app for r and writes the response. Returns 0; r->status, r->bytes_sent and
 * r->keep_alive say what happened. An exception counts in *ret_exception. */
int wsgi_handle(WsgiThread *t, Request *r, bool *ret_exception);
