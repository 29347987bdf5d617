/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "gevent.h"
#include "conn.h"
#include "guard.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "uwsgi.h"
#include "wsgi.h"
#include "wsgi_gevent.h"

/* Threads: the hub's (the main thread: every connection, every greenlet, all state below but
 * the atomics) and the control thread (an sd-event loop for signals, which only sets
 * `stopping` and wakes the hub through an eventfd, or reads the scoreboard for SIGUSR2).
 *
 * Each connection takes a slot: its buffer, its request, its Python objects (a start_response
 * of its own: requests on one thread are no longer one at a time) and a scoreboard core, so
 * harakiri, the stats and the SIGUSR2 report see every greenlet's request as they see a
 * thread's. Free slots are a stack: the most recently used, warm in the cache, goes first, and
 * slots never used are never touched (3000 of them cost nothing until the load comes). */

/* The hub calls wake() this often: idle connections of a stopping worker, EMFILE pauses. */
#define TICK_MS 200

typedef struct GeventWorker GeventWorker;

typedef struct GListener {
        Listener *l;
        char server_addr[64];
        char server_port[8];
} GListener;

typedef struct GSlot {
        int index;
        bool used;
        bool idle;         /* waiting for a request head, no byte of it yet */
        bool shut;         /* stopping: its read side was shut down */
        int64_t idle_since; /* ms */
        int fd;
        GListener *gl;
        ConnBuffer in;
        ConnInfo info;
        ScoreboardCore *core;
        WsgiThread *wt; /* made on first use, kept */
        Request req;
        ConnParser parser;
        char method[32];
        char uri[1024];
} GSlot;

struct GeventWorker {
        const VassalConfig *cfg;
        Scoreboard *scoreboard;
        ScoreboardSlot *slot;
        uint64_t max_requests;
        int statm_fd;
        int id;
        pid_t pid;
        int ready_fd;
        int wake_fd;
        GListener *listeners;
        int *listener_fds;
        size_t n_listeners;

        GSlot **slots; /* made on first use */
        size_t n_slots;
        int *free_stack; /* indices of free slots, the next one on top */
        size_t n_free;
        size_t n_conns;

        atomic_bool stopping;
        bool paused; /* EMFILE: the listeners rest until paused_at + 1 s */
        int64_t paused_at;
        uint64_t requests;
        int timeout_ms;
        bool control_started;
        ConnLogDate date;
};

/* ---- stopping ---- */

/* The hub's side of a stop: idle keep-alive connections quiet for CONN_STOP_IDLE_MS have their
 * read side shut down, so their greenlet wakes to EOF and closes them; one busy a moment ago
 * likely has its next request on the way, which is answered with "Connection: close". */
static void stop_idle_connections(GeventWorker *w) {
        int64_t now = conn_now_ms();
        for (size_t i = 0; i < w->n_slots; i++) {
                GSlot *s = w->slots[i];
                if (s && s->used && s->idle && !s->shut &&
                    now - s->idle_since > CONN_STOP_IDLE_MS) {
                        s->shut = true;
                        (void) shutdown(s->fd, SHUT_RD);
                }
        }
}

static void begin_stop(GeventWorker *w, const char *why) {
        if (atomic_exchange(&w->stopping, true))
                return;
        log_info("worker %d stopping (%s), %zu connection(s) open", w->id, why, w->n_conns);
}

/* ---- requests ---- */

/* The method and URI outlive the connection buffer (a pipelined request may reuse it). */
/* Serves one parsed request; returns whether the connection may go on. */
static bool slot_serve(GeventWorker *w, GSlot *s, Request *r) {
        char why[64];
        bool raised;
        int64_t elapsed = conn_serve_request(w->cfg, w->slot, s->core, s->wt, r, s->method,
                                             sizeof(s->method), s->uri, sizeof(s->uri), &raised);
        uint64_t n = ++w->requests;
        ConnLogCtx log = { w->cfg, w->scoreboard, w->statm_fd, w->pid, w->id, s->index };
        conn_log_request(&log, n, r, elapsed, &w->date);
        request_done(r);
        if (conn_recycle_due(w->cfg, w->slot, n, w->max_requests, raised, why, sizeof(why)))
                begin_stop(w, why);
        return r->keep_alive;
}

/* Parses what the buffer holds: 1 when a request was served and the connection goes on, 0 when
 * more bytes are needed, -1 when the connection is done. */
static int slot_process(GeventWorker *w, GSlot *s) {
        Request *r = &s->req;
        int k = conn_parse_head(r, s->fd, s->gl->l->proto, &s->in, &s->info, w->cfg,
                                w->timeout_ms, &s->parser);

        if (k <= 0)
                return k;
        if (atomic_load(&w->stopping))
                r->keep_alive = false;
        return slot_serve(w, s, r) ? 1 : -1;
}

/* Runs a connection until it closes, in its greenlet. */
static void slot_run(GeventWorker *w, GSlot *s) {
        int64_t now = conn_now_ms();
        ConnClock clk = { .last_active = now, .head_since = now };

        for (;;) {
                if (s->in.end > s->in.start) {
                        int k = slot_process(w, s);
                        if (k < 0)
                                return;
                        if (k > 0) {
                                /* Served: the next head (pipelined, or still to come) and the
                                 * keep-alive wait start now. */
                                clk.last_active = clk.head_since = conn_now_ms();
                                continue;
                        }
                }
        read_more:
                if (s->in.start == s->in.end)
                        s->in.start = s->in.end = 0;
                else if (s->in.start > 0) {
                        memmove(s->in.data, s->in.data + s->in.start, s->in.end - s->in.start);
                        s->in.end -= s->in.start;
                        s->in.start = 0;
                }

                ssize_t n = recv(s->fd, s->in.data + s->in.end, s->in.size - s->in.end, 0);
                if (n > 0) {
                        char *fresh = s->in.data + s->in.end;
                        clk.last_active = conn_now_ms();
                        if (s->in.end == 0)
                                clk.head_since = clk.last_active; /* a new request's head */
                        s->in.end += n;
                        /* No new '\n': the head cannot have completed (see worker.c). */
                        if (s->gl->l->proto == SOCKET_HTTP && !memchr(fresh, '\n', n) &&
                            s->in.end < s->in.size)
                                goto read_more;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        /* The wait ends at the connection's deadline (conn.c), as the threads'
                         * sweep would cut it off: a head trickled a byte at a time does not
                         * outlive header-timeout. */
                        clk.partial = s->in.end > 0;
                        int64_t left = conn_wait_left(w->cfg, &clk, atomic_load(&w->stopping),
                                                      conn_now_ms());
                        int k = -ETIMEDOUT;
                        if (left > 0) {
                                s->idle = !clk.partial;
                                s->idle_since = conn_now_ms();
                                k = wsgi_gevent_wait(s->fd, POLLIN, (int) MIN(left, INT_MAX));
                                s->idle = false;
                        }
                        if (k == 0)
                                continue;
                        if (k == -ETIMEDOUT && clk.partial) {
                                request_reset(&s->req, s->fd, s->gl->l->proto, &s->in,
                                              w->timeout_ms);
                                response_error(&s->req, 408);
                        }
                        return;
                }
                return; /* EOF or error */
        }
}

/* ---- what the hub calls ---- */

static GSlot *slot_get(GeventWorker *w, size_t index) {
        GSlot *s = w->slots[index];
        if (s)
                return s;
        s = calloc(1, sizeof(GSlot));
        if (!s)
                return NULL;
        s->index = (int) index;
        s->core = scoreboard_core(w->scoreboard, w->id, index);
        s->in.size = w->cfg->buffer_size;
        s->in.data = malloc(s->in.size);
        s->parser.scratch_size = 2 * w->cfg->buffer_size + 1024;
        s->parser.scratch = malloc(s->parser.scratch_size);
        if (!s->core || !s->in.data || !s->parser.scratch) {
                free(s->in.data);
                free(s->parser.scratch);
                free(s);
                return NULL;
        }
        w->slots[index] = s;
        return s;
}

static bool hub_accepting(void *userdata) {
        GeventWorker *w = userdata;
        return !atomic_load(&w->stopping) && !w->paused && w->n_free > 0;
}

static int hub_accept(void *userdata, size_t i) {
        GeventWorker *w = userdata;
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);

        if (!hub_accepting(w) || i >= w->n_listeners)
                return -1;
        GListener *gl = &w->listeners[i];
        int fd = accept4(gl->l->fd, (struct sockaddr *) &peer, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE) {
                        w->paused = true;
                        w->paused_at = conn_now_ms();
                        log_warning_errno(errno, "worker %d: accept: %m, pausing for 1 s", w->id);
                }
                return -1; /* EAGAIN: another worker took it */
        }
        size_t index = w->free_stack[w->n_free - 1];
        GSlot *s = slot_get(w, index);
        if (!s) {
                log_oom();
                safe_close(fd);
                return -1;
        }
        w->n_free--;
        w->n_conns++;
        s->used = true;
        s->idle = s->shut = false;
        s->fd = fd;
        s->gl = gl;
        s->in.start = s->in.end = 0;
        if (!gl->l->tcp)
                peer.ss_family = AF_UNIX;
        conn_format_addr(&peer, s->info.remote_addr, sizeof(s->info.remote_addr),
                    s->info.remote_port, sizeof(s->info.remote_port));
        memcpy(s->info.server_addr, gl->server_addr, sizeof(s->info.server_addr));
        memcpy(s->info.server_port, gl->server_port, sizeof(s->info.server_port));
        return (int) index;
}

static void hub_serve(void *userdata, int handle) {
        GeventWorker *w = userdata;
        GSlot *s = w->slots[handle];

        /* The slot's Python objects are made on its first connection, here, without the GIL
         * (wsgi_thread_new takes it): this thread's state is every greenlet's. */
        if (!s->wt)
                s->wt = wsgi_thread_new(w->cfg);
        if (s->wt)
                slot_run(w, s);
        safe_close(s->fd);
        s->fd = -1;
        s->used = false;
        w->free_stack[w->n_free++] = s->index;
        w->n_conns--;
}

static void hub_wake(void *userdata) {
        GeventWorker *w = userdata;
        uint64_t v;

        (void) !read(w->wake_fd, &v, sizeof(v));
        if (atomic_load(&w->stopping))
                stop_idle_connections(w);
        if (w->paused && conn_now_ms() - w->paused_at >= 1000)
                w->paused = false;
}

static bool hub_done(void *userdata) {
        GeventWorker *w = userdata;
        return atomic_load(&w->stopping) && w->n_conns == 0;
}

static void hub_ready(void *userdata) {
        GeventWorker *w = userdata;
        uint32_t id = w->id;

        if (w->ready_fd < 0)
                return;
        (void) !write(w->ready_fd, &id, sizeof(id));
        w->ready_fd = safe_close(w->ready_fd);
        log_debug("worker %d serving up to %zu connections in greenlets", w->id, w->n_slots);
}

/* ---- the control thread ---- */

static int on_stop_signal(sd_event_source *src, const struct signalfd_siginfo *si,
                          void *userdata) {
        GeventWorker *w = userdata;
        uint64_t one = 1;
        (void) src;
        if (si->ssi_signo == SIGQUIT)
                _exit(0);
        if (!atomic_exchange(&w->stopping, true))
                log_info("worker %d stopping (%s)", w->id, strsignal(si->ssi_signo));
        (void) !write(w->wake_fd, &one, sizeof(one));
        return 0;
}

/* SIGUSR2 (harakiri-verbose first sends it): every greenlet's request from the scoreboard, and
 * the Python stack of the one running now (the hub's thread lets go of the GIL between
 * switches, so a stuck greenlet is the one shown). */
static int on_report_signal(sd_event_source *src, const struct signalfd_siginfo *si,
                            void *userdata) {
        GeventWorker *w = userdata;
        (void) src;
        (void) si;
        guard_log_requests(w->scoreboard, w->id);
        /* A greenlet holding the hub blocks all the others: name the one that runs now. The
         * oldest request (the one harakiri names) may well be one waiting its turn. */
        int h = wsgi_gevent_running_handle();
        ScoreboardRequest req;
        if (h >= 0 && (size_t) h < w->n_slots && w->slots[h] &&
            scoreboard_core_request(w->slots[h]->core, &req))
                log_warning("pid %d greenlet %d holds the hub: %s %s running for %.3f s",
                            (int) w->pid, h + 1, req.method, req.uri,
                            (double) (conn_now_us() - req.start) / 1e6);
        else
                log_warning("pid %d: no greenlet holds the hub (every one waits)", (int) w->pid);
        wsgi_log_stacks();
        return 0;
}

static void *control_main(void *arg) {
        GeventWorker *w = arg;
        sd_event *e = NULL;
        int r = sd_event_new(&e);
        if (r >= 0) {
                int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP };
                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sigs); i++)
                        r = sd_event_add_signal(e, NULL, sigs[i], on_stop_signal, w);
        }
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGUSR2, on_report_signal, w);
        if (r >= 0)
                r = sd_event_loop(e);
        /* Only on failure: the process ends while the loop runs. Without signals the worker
         * cannot be stopped gracefully: stop now, the master replaces it. */
        log_error_errno(r, "worker %d: control loop failed: %m, stopping", w->id);
        uint64_t one = 1;
        atomic_store(&w->stopping, true);
        (void) !write(w->wake_fd, &one, sizeof(one));
        sd_event_unref(e);
        return NULL;
}

/* ---- setup ---- */

static int setup_listeners(GeventWorker *w, ListenerSet *ls) {
        w->listeners = calloc(ls->n, sizeof(GListener));
        w->listener_fds = calloc(ls->n, sizeof(int));
        if (!w->listeners || !w->listener_fds)
                return log_oom();
        w->n_listeners = ls->n;
        for (size_t i = 0; i < ls->n; i++) {
                GListener *gl = &w->listeners[i];
                struct sockaddr_storage sa;
                socklen_t len = sizeof(sa);
                gl->l = &ls->items[i];
                w->listener_fds[i] = gl->l->fd;
                if (getsockname(gl->l->fd, (struct sockaddr *) &sa, &len) == 0)
                        conn_format_addr(&sa, gl->server_addr, sizeof(gl->server_addr),
                                    gl->server_port, sizeof(gl->server_port));
                if (!gl->server_addr[0])
                        snprintf(gl->server_addr, sizeof(gl->server_addr), "localhost");
        }
        return 0;
}

/* N connections need N descriptors: take the hard limit, if the soft one is short. */
static void raise_nofile(GeventWorker *w) {
        struct rlimit rl;
        rlim_t want = (rlim_t) w->n_slots + 256;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
                log_warning("worker %d: %llu descriptors allowed for gevent = %zu connections: "
                            "some will wait (raise LimitNOFILE / ulimit -n)",
                            w->id, (unsigned long long) rl.rlim_cur, w->n_slots);
}

static void worker_free(GeventWorker *w) {
        for (size_t i = 0; w->slots && i < w->n_slots; i++) {
                GSlot *s = w->slots[i];
                if (!s)
                        continue;
                /* The Python objects go with the process: freeing them needs the GIL. */
                free(s->in.data);
                free(s->parser.scratch);
                free(s);
        }
        free(w->slots);
        free(w->free_stack);
        free(w->listeners);
        free(w->listener_fds);
        safe_close(w->wake_fd);
        safe_close(w->statm_fd);
        safe_close(w->ready_fd);
}

/* One per process, static: the control thread may use it until the process ends, after this
 * function returned. */
static GeventWorker gw;

int gevent_worker_run(const WorkerArgs *a) {
        gw = (GeventWorker) {
                .cfg = a->cfg,
                .scoreboard = a->scoreboard,
                .slot = a->slot,
                .max_requests = guard_max_requests(a->cfg, a->id),
                .statm_fd = -1,
                .id = a->id,
                .pid = getpid(),
                .ready_fd = a->ready_fd,
                .wake_fd = -1,
                .n_slots = (size_t) a->cfg->gevent,
                .timeout_ms = (int) a->cfg->socket_timeout * 1000,
        };
        char name[160];
        pthread_t control;
        int r, code = 1;

        r = worker_begin(a, name, sizeof(name));
        if (r != 0)
                return r;
        /* The main thread keeps the GIL: it is the hub's. */

        gw.slots = calloc(gw.n_slots, sizeof(GSlot *));
        gw.free_stack = calloc(gw.n_slots, sizeof(int));
        gw.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (!gw.slots || !gw.free_stack || gw.wake_fd < 0) {
                log_error_errno(errno ?: ENOMEM, "worker %d: setup: %m", gw.id);
                goto out;
        }
        /* Slot 0 on top: a light load keeps using the first few. */
        for (size_t i = 0; i < gw.n_slots; i++)
                gw.free_stack[i] = (int) (gw.n_slots - 1 - i);
        gw.n_free = gw.n_slots;
        if (setup_listeners(&gw, a->listeners) < 0)
                goto out;
        if (a->cfg->memory_report)
                gw.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        raise_nofile(&gw);

        r = pthread_create(&control, NULL, control_main, &gw);
        if (r != 0) {
                log_error_errno(r, "worker %d: failed to start the control thread: %m", gw.id);
                goto out;
        }
        (void) pthread_detach(control);
        gw.control_started = true;

        WsgiGeventOps ops = {
                .userdata = &gw,
                .listener_fds = gw.listener_fds,
                .n_listeners = gw.n_listeners,
                .wake_fd = gw.wake_fd,
                .accept = hub_accept,
                .serve = hub_serve,
                .wake = hub_wake,
                .accepting = hub_accepting,
                .done = hub_done,
                .ready = hub_ready,
                .tick_ms = TICK_MS,
        };
        r = wsgi_gevent_run(a->cfg, &ops);
        if (r >= 0) {
                code = 0;
                log_debug("worker %d done after %llu requests", gw.id,
                          (unsigned long long) gw.requests);
        }
out:
        /* What the hub's greenlets hold goes with the process (the caller _exit()s): only a
         * worker that never started its control thread frees here. */
        if (code != 0 && !gw.control_started)
                worker_free(&gw);
        return code;
}
