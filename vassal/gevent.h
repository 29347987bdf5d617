/* SPDX-License-Identifier: MIT */
#pragma once

/* A worker process with `gevent = N`: one thread runs gevent's hub and serves up to N
 * connections at once, each in its own greenlet, through the same C request path as a worker
 * thread (parse -> WSGI -> response), waiting on its socket by yielding to the hub. A second
 * thread runs the worker's sd-event loop for signals. wsgi_gevent.c is the Python half. */

#include "worker.h"

/* Runs in the forked child instead of worker_run(); returns the exit status (0, or EX_CONFIG
 * when a lazy app fails to import). */
int gevent_worker_run(const WorkerArgs *args);
