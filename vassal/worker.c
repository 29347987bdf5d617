/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "gevent.h"
#include "conn.h"
#include "guard.h"
#include "http.h"
#include "log.h"
#include "master.h"
#include "request.h"
#include "response.h"
#include "uwsgi.h"
#include "worker.h"
#include "wsgi.h"

/* Tags for epoll data: every registered object starts with one of these. */
enum {
        TAG_LISTENER = 1,
        TAG_CONN,
};

typedef enum ConnState {
        CONN_OWNED,   /* a thread is reading or serving it */
        CONN_WAITING, /* in the epoll set, waiting for bytes */
} ConnState;

typedef struct Worker Worker;

typedef struct ListenerRef {
        int tag;
        Listener *l;
        char server_addr[64];
        char server_port[8];
} ListenerRef;

typedef struct Conn {
        int tag;
        int fd;
        ListenerRef *lr;
        ConnBuffer in;
        ConnInfo info;
        _Atomic int state;
        _Atomic int64_t last_active; /* ms, CLOCK_MONOTONIC */
        _Atomic int64_t head_since;  /* ms: the first byte of the head still being read */
        _Atomic bool timed_out;      /* the sweep shut its read side down */
        bool registered;             /* added to the epoll set once */
        /* post-buffering: a body read from the epoll set, before any thread serves it; the
         * head stays in `in` and is parsed again once the body is complete. */
        char *body;
        size_t body_len;
        _Atomic size_t body_got;
        int64_t body_since; /* ms */
        struct Conn *prev, *next;
} Conn;

typedef struct ThreadCtx {
        Worker *w;
        pthread_t tid;
        WsgiThread *wt;
        ScoreboardCore *core; /* this thread's: its request in flight, for harakiri and stats */
        Request req;
        ConnParser parser;
        char method[32];
        char uri[1024];
        ConnLogDate date;
} ThreadCtx;

struct Worker {
        const VassalConfig *cfg;
        Scoreboard *scoreboard;
        ScoreboardSlot *slot;
        uint64_t max_requests; /* max-requests with max-requests-delta; 0: none */
        int statm_fd;          /* memory-report: /proc/self/statm, kept open; -1: off */
        int id;
        pid_t pid;
        int epfd;
        int done_fd; /* eventfd: the last connection closed while stopping */
        ListenerRef *refs;
        size_t n_refs;
        ThreadCtx *threads;

        pthread_mutex_t lock; /* guards the conns list and fds while the sweep uses them */
        pthread_cond_t started_cond;
        int64_t threads_started;
        unsigned threads_failed;
        Conn *conns;
        atomic_uint n_conns;
        atomic_uint accepting; /* threads between a listener's event and their conn_new() */
        atomic_bool stopping;
        pthread_mutex_t accept_lock; /* guards listening and the listeners' epoll entries */
        bool listening;              /* the listeners are in the epoll set */
        atomic_bool paused; /* listeners out of the epoll set after EMFILE */
        _Atomic int64_t paused_at;
        atomic_uint_fast64_t requests;
        atomic_int idle_threads; /* threads in epoll_wait: none means connections may wait */
        int timeout_ms;
};

/* Connections spread over the worker processes.
 *
 * Every worker has each listener in its epoll set with EPOLLEXCLUSIVE: a new connection wakes
 * one epoll set, not all (no thundering herd), and the kernel skips a set none of whose
 * threads waits in epoll_wait (a worker with every thread busy is passed over). But it walks
 * the listener's wait queue from its head, in the order the sets were added, and wakes the
 * first with a waiter: with many threads per process that is always the same worker, which
 * then takes every connection while the others idle. So after each accept the worker takes
 * the listener out of its set and adds it back, which moves its entry to the tail of the
 * queue: the next connection wakes the next worker, round robin, and a worker with no idle
 * thread is still skipped. N requests at once land about N/P on each of P workers: exactly,
 * when every worker's threads are busy; within a few, when a burst of connects fills the
 * backlog faster than the workers accept (a worker that adds the listener back finds it
 * readable and takes the next one too, racing the worker whose turn it is).
 *
 * Why not the others: SO_REUSEPORT (one socket per worker) hashes connections to sockets
 * whatever their load, and a socket closed by a worker that stops drops the connections in
 * its queue; it would also change what LISTEN_FDS and a blue-green reload hand over (one
 * socket, held by the master and the emperor, so a reload never refuses a connection). An
 * accept mutex (nginx's old accept_mutex) serializes accepting and adds a delay. The price
 * here is two epoll_ctl calls per accepted connection, nothing per keep-alive request; with
 * one process there is no one to rotate with, and nothing is done. */
static void listener_watch(Worker *w, ListenerRef *lr) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = lr };
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, lr->l->fd, &ev) < 0 && errno != EEXIST)
                log_warning_errno(errno, "Failed to watch '%s': %m", lr->l->address);
}

/* Puts the listeners in the epoll set, or takes them out while paused (EMFILE) or stopping.
 * Callable from any thread. */
static void listeners_update(Worker *w) {
        pthread_mutex_lock(&w->accept_lock);
        bool on = !atomic_load(&w->paused) && !atomic_load(&w->stopping);
        if (on != w->listening) {
                for (size_t i = 0; i < w->n_refs; i++)
                        if (on)
                                listener_watch(w, &w->refs[i]);
                        else
                                (void) epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->refs[i].l->fd, NULL);
                w->listening = on;
        }
        pthread_mutex_unlock(&w->accept_lock);
}

/* After an accept: to the back of the listener's queue of workers (see above). */
static void listener_rotate(Worker *w, ListenerRef *lr) {
        if (w->cfg->processes < 2)
                return;
        pthread_mutex_lock(&w->accept_lock);
        if (w->listening) {
                (void) epoll_ctl(w->epfd, EPOLL_CTL_DEL, lr->l->fd, NULL);
                listener_watch(w, lr);
        }
        pthread_mutex_unlock(&w->accept_lock);
}

static void worker_signal_done(Worker *w) {
        uint64_t one = 1;
        (void) !write(w->done_fd, &one, sizeof(one));
}

/* Whether a stopping worker may exit: no connection open, and no thread about to accept one
 * (a thread woken by the listener just before the stop would otherwise accept after the last
 * connection closed, and the exit would reset the client it took). */
static bool worker_drained(Worker *w) {
        return atomic_load(&w->n_conns) == 0 && atomic_load(&w->accepting) == 0;
}

/* Stops taking connections; idle keep-alive connections are closed, requests in flight finish.
 * Callable from any thread. */
static void worker_begin_stop(Worker *w, const char *why) {
        if (atomic_exchange(&w->stopping, true))
                return;
        log_info("worker %d stopping (%s), %u connection(s) open", w->id, why,
                 atomic_load(&w->n_conns));
        listeners_update(w);

        /* Idle keep-alive connections are closed, but one that was busy a moment ago likely
         * has its next request on the way: closing it now would reset that request. It gets
         * CONN_STOP_IDLE_MS to send it, is answered with "Connection: close", and is closed
         * then (or by the sweep, if nothing came). */
        int64_t now = conn_now_ms();
        pthread_mutex_lock(&w->lock);
        for (Conn *c = w->conns; c; c = c->next)
                if (atomic_load(&c->state) == CONN_WAITING && c->in.end == c->in.start &&
                    now - atomic_load(&c->last_active) > CONN_STOP_IDLE_MS &&
                    !atomic_exchange(&c->timed_out, true))
                        (void) shutdown(c->fd, SHUT_RD); /* its thread wakes up to EOF */
        pthread_mutex_unlock(&w->lock);

        if (worker_drained(w))
                worker_signal_done(w);
}

/* ---- connections ---- */

static Conn *conn_new(Worker *w, int fd, ListenerRef *lr, const struct sockaddr_storage *peer) {
        Conn *c = malloc(sizeof(Conn));
        if (!c)
                return NULL;
        *c = (Conn) { .tag = TAG_CONN, .fd = fd, .lr = lr };
        c->in.size = w->cfg->buffer_size;
        c->in.data = malloc(c->in.size);
        if (!c->in.data) {
                free(c);
                return NULL;
        }
        conn_format_addr(peer, c->info.remote_addr, sizeof(c->info.remote_addr),
                         c->info.remote_port, sizeof(c->info.remote_port));
        memcpy(c->info.server_addr, lr->server_addr, sizeof(c->info.server_addr));
        memcpy(c->info.server_port, lr->server_port, sizeof(c->info.server_port));
        atomic_store(&c->last_active, conn_now_ms());

        pthread_mutex_lock(&w->lock);
        c->next = w->conns;
        if (w->conns)
                w->conns->prev = c;
        w->conns = c;
        pthread_mutex_unlock(&w->lock);
        atomic_fetch_add(&w->n_conns, 1);
        return c;
}

static void conn_close(Worker *w, Conn *c) {
        pthread_mutex_lock(&w->lock);
        if (c->prev)
                c->prev->next = c->next;
        else
                w->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        /* Closed under the lock: the sweep never shuts down a recycled fd number. */
        safe_close(c->fd);
        pthread_mutex_unlock(&w->lock);
        free(c->in.data);
        free(c->body);
        free(c);
        if (atomic_fetch_sub(&w->n_conns, 1) == 1 && atomic_load(&w->stopping) &&
            worker_drained(w))
                worker_signal_done(w);
}

/* Puts the connection back into the epoll set until bytes arrive. */
static bool conn_wait(Worker *w, Conn *c) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c };
        /* Everything about c is settled before epoll_ctl: once it is armed, another thread may
         * take its event, serve it and even free it before the call returns here. */
        int op = c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        c->registered = true;
        atomic_store(&c->state, CONN_WAITING);
        if (epoll_ctl(w->epfd, op, c->fd, &ev) < 0) {
                /* Not armed: c is still ours alone, and the caller closes it. */
                log_warning_errno(errno, "Failed to watch a connection: %m, closing it");
                return false;
        }
        return true;
}

static bool conn_body_pending(const Conn *c) {
        return c->body && atomic_load(&c->body_got) < c->body_len;
}

/* post-buffering: a body of up to post-buffering bytes that has not fully arrived with its head
 * is read from the epoll set, like the head, so a client sending it slowly holds a descriptor
 * and that memory but no thread (a bigger body is spooled to a temp file by the thread, as
 * before). The head stays in the buffer, to be parsed again once the body is complete; the
 * bytes of the body already received move to c->body. Returns whether it was deferred. */
/* gcc's analyzer loses c (it came out of an epoll event) and calls the body it now owns
 * leaked; conn_close() frees it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
static bool conn_defer_body(Worker *w, Conn *c, const Request *r, size_t head_at) {
        size_t avail = c->in.end - c->in.start;
        if (w->cfg->post_buffering == 0 || r->body_mode != BODY_LENGTH || r->expect_continue ||
            r->body_left > w->cfg->post_buffering || avail >= r->body_left)
                return false;
        c->body = malloc(r->body_left);
        if (!c->body)
                return false; /* the thread reads it, as without post-buffering */
        memcpy(c->body, c->in.data + c->in.start, avail);
        c->body_len = r->body_left;
        atomic_store(&c->body_got, avail);
        c->body_since = conn_now_ms();
        c->in.end = c->in.start;
        c->in.start = head_at;
        return true;
}
#pragma GCC diagnostic pop

/* Serves one parsed request; returns whether the connection may go on. */
static bool conn_serve(ThreadCtx *t, Request *r) {
        Worker *w = t->w;
        char why[64];
        bool raised;
        int64_t elapsed = conn_serve_request(w->cfg, w->slot, t->core, t->wt, r, t->method,
                                             sizeof(t->method), t->uri, sizeof(t->uri), &raised);
        uint64_t n = atomic_fetch_add(&w->requests, 1) + 1;
        ConnLogCtx log = { w->cfg, w->scoreboard, w->statm_fd, w->pid, w->id,
                           (int) (t - w->threads) };
        conn_log_request(&log, n, r, elapsed, &t->date);
        request_done(r);
        if (conn_recycle_due(w->cfg, w->slot, n, w->max_requests, raised, why, sizeof(why)))
                worker_begin_stop(w, why);
        /* What the response promised, even when we started stopping meanwhile: the client may
         * have sent its next request already, and it gets an answer ("Connection: close"). */
        return r->keep_alive;
}

/* Parses what the buffer holds. Returns 1 when a request was served and the connection goes
 * on, 0 when more bytes are needed, -1 when the connection is done. */
static int conn_process(ThreadCtx *t, Conn *c) {
        Worker *w = t->w;
        Request *r = &t->req;
        size_t head_at = c->in.start;
        int k = conn_parse_head(r, c->fd, c->lr->l->proto, &c->in, &c->info, w->cfg,
                                w->timeout_ms, &t->parser);

        if (k <= 0)
                return k;
        if (c->body) {
                /* Its body was read from the epoll set (conn_defer_body()): all here. */
                request_set_body(r, TAKE_PTR(c->body), c->body_len);
                atomic_store(&c->body_got, 0);
        } else if (conn_defer_body(w, c, r, head_at))
                return 0;
        /* Stopping: this request is served, and its response says the connection closes. */
        if (atomic_load(&w->stopping))
                r->keep_alive = false;
        return conn_serve(t, r) ? 1 : -1;
}

/* Runs a connection until it has to wait for bytes (back into the epoll set) or is done. */
static void conn_run(ThreadCtx *t, Conn *c) {
        Worker *w = t->w;

        atomic_store(&c->state, CONN_OWNED);
        for (;;) {
                if (c->in.end > c->in.start && !conn_body_pending(c)) {
                        int k = conn_process(t, c);
                        if (k < 0)
                                break;
                        if (k > 0 && c->in.end > c->in.start) {
                                /* Pipelined: the next request is here already. */
                                atomic_store(&c->head_since, conn_now_ms());
                                continue;
                        }
                        /* Fair keep-alive: a connection that was just served goes to the back
                         * of the line when others may be waiting (no thread of ours is idle
                         * to take them), rather than this thread serving it again at once:
                         * re-armed, it is queued behind the connections already ready in the
                         * epoll set. With a thread idle, nothing waits, and reading on saves
                         * the round trip through epoll. */
                        if (k > 0 && atomic_load(&w->idle_threads) == 0) {
                                c->in.start = c->in.end = 0;
                                if (conn_wait(w, c))
                                        return;
                                break;
                        }
                }
        read_more:
                if (conn_body_pending(c)) {
                        size_t got = atomic_load(&c->body_got);
                        ssize_t n = recv(c->fd, c->body + got, c->body_len - got, 0);
                        if (n > 0) {
                                atomic_store(&c->body_got, got + n);
                                atomic_store(&c->last_active, conn_now_ms());
                                continue;
                        }
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && errno == EAGAIN) {
                                if (conn_wait(w, c))
                                        return;
                                break;
                        }
                        if (atomic_load(&c->timed_out)) {
                                request_reset(&t->req, c->fd, c->lr->l->proto, &c->in,
                                              w->timeout_ms);
                                response_error(&t->req, 408);
                        }
                        break;
                }
                if (c->in.start == c->in.end)
                        c->in.start = c->in.end = 0;
                else if (c->in.start > 0) {
                        memmove(c->in.data, c->in.data + c->in.start, c->in.end - c->in.start);
                        c->in.end -= c->in.start;
                        c->in.start = 0;
                }

                ssize_t n = recv(c->fd, c->in.data + c->in.end, c->in.size - c->in.end, 0);
                if (n > 0) {
                        char *fresh = c->in.data + c->in.end;
                        int64_t now = conn_now_ms();
                        if (c->in.end == c->in.start)
                                atomic_store(&c->head_since, now); /* a new request's head */
                        c->in.end += n;
                        atomic_store(&c->last_active, now);
                        /* A head can only complete (or fail) at a line end, and the parser
                         * judges every prefix the same way: without a new '\n' there is
                         * nothing to re-parse, which keeps a byte-at-a-time client linear. */
                        if (c->lr->l->proto == SOCKET_HTTP && !memchr(fresh, '\n', n) &&
                            c->in.end < c->in.size)
                                goto read_more;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        if (conn_wait(w, c))
                                return;
                        break;
                }
                /* EOF or error. A request cut short by our timeout gets its 408. */
                if (atomic_load(&c->timed_out) && c->in.end > c->in.start) {
                        request_reset(&t->req, c->fd, c->lr->l->proto, &c->in, w->timeout_ms);
                        response_error(&t->req, 408);
                }
                break;
        }
        conn_close(w, c);
}

/* The end of an accept (see worker_drained()): the last one of a stopping worker with no
 * connection left lets it exit. */
static void accept_done(Worker *w) {
        if (atomic_fetch_sub(&w->accepting, 1) == 1 && atomic_load(&w->stopping) &&
            worker_drained(w))
                worker_signal_done(w);
}

static void on_listener(ThreadCtx *t, ListenerRef *lr) {
        Worker *w = t->w;
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);

        /* Counted before stopping is read, the stopper sets stopping before it reads the count
         * (both sequentially consistent): either it sees this accept, or this sees the stop
         * and leaves the connection in the queue for the next worker. */
        atomic_fetch_add(&w->accepting, 1);
        if (atomic_load(&w->stopping)) {
                accept_done(w);
                return;
        }
        int fd = accept4(lr->l->fd, (struct sockaddr *) &peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE) {
                        /* Out of descriptors: stop accepting for a second (the sweep re-arms),
                         * rather than spinning on a listener that stays readable. */
                        if (!atomic_exchange(&w->paused, true)) {
                                atomic_store(&w->paused_at, conn_now_ms());
                                listeners_update(w);
                                log_warning_errno(errno, "worker %d: accept: %m, pausing for 1 s",
                                                  w->id);
                        }
                }
                accept_done(w);
                return; /* EAGAIN: another thread or process took it */
        }
        listener_rotate(w, lr);
        if (!lr->l->tcp)
                peer.ss_family = AF_UNIX;
        Conn *c = conn_new(w, fd, lr, &peer);
        accept_done(w);
        if (!c) {
                log_oom();
                safe_close(fd);
                return;
        }
        conn_run(t, c);
}

/* Counts threads that finished setting up, so the worker says ready only once all can serve. */
static void thread_started(Worker *w, bool ok) {
        pthread_mutex_lock(&w->lock);
        w->threads_started++;
        w->threads_failed += !ok;
        pthread_cond_signal(&w->started_cond);
        pthread_mutex_unlock(&w->lock);
}

static void *thread_main(void *arg) {
        ThreadCtx *t = arg;
        Worker *w = t->w;
        struct epoll_event evs[64];

        /* The Python thread state must be made on this thread: made elsewhere, every thread
         * would share the maker's state. */
        t->parser.scratch_size = 2 * w->cfg->buffer_size + 1024;
        t->parser.scratch = malloc(t->parser.scratch_size);
        t->wt = t->parser.scratch ? wsgi_thread_new(w->cfg) : NULL;
        thread_started(w, t->wt != NULL);
        if (!t->wt) {
                t->parser.scratch = mfree(t->parser.scratch);
                return NULL;
        }

        /* One thread takes every ready event; several take one each, so a slow request never
         * holds events another thread could serve. */
        int max = w->cfg->threads == 1 ? (int) ELEMENTSOF(evs) : 1;

        for (;;) {
                atomic_fetch_add(&w->idle_threads, 1);
                int n = epoll_wait(w->epfd, evs, max, -1);
                atomic_fetch_sub(&w->idle_threads, 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(errno, "epoll_wait: %m");
                        return NULL;
                }
                for (int i = 0; i < n; i++) {
                        int tag = *(int *) evs[i].data.ptr;
                        if (tag == TAG_LISTENER)
                                on_listener(t, evs[i].data.ptr);
                        else
                                conn_run(t, evs[i].data.ptr);
                }
        }
}

/* ---- the worker's main thread ---- */

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Worker *w = userdata;
        (void) s;
        if (si->ssi_signo == SIGQUIT)
                _exit(0);
        worker_begin_stop(w, strsignal(si->ssi_signo));
        return 0;
}

/* SIGUSR2, which harakiri-verbose sends before the kill (and anyone may): what each thread
 * serves and every Python thread's stack, as a uWSGI worker answers it. */
static int on_report_signal(sd_event_source *s, const struct signalfd_siginfo *si,
                            void *userdata) {
        Worker *w = userdata;
        (void) s;
        (void) si;
        guard_log_requests(w->scoreboard, w->id);
        wsgi_log_stacks();
        return 0;
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        uint64_t v;
        (void) revents;
        (void) !read(fd, &v, sizeof(v));
        if (worker_drained(w))
                return sd_event_exit(sd_event_source_get_event(s), 0);
        return 0;
}

/* Every second: time out stalled requests and idle keep-alive connections, and re-arm the
 * listeners after an EMFILE pause. */
static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        int64_t now = conn_now_ms();
        bool stopping = atomic_load(&w->stopping);

        pthread_mutex_lock(&w->lock);
        for (Conn *c = w->conns; c; c = c->next) {
                if (atomic_load(&c->state) != CONN_WAITING || atomic_load(&c->timed_out))
                        continue;
                /* The deadlines are conn.c's, the same for greenlets: a head gets
                 * header-timeout as a whole, a body read here (conn_defer_body())
                 * body-timeout plus a second per body-min-rate bytes. */
                ConnClock clk = {
                        .last_active = atomic_load(&c->last_active),
                        .head_since = atomic_load(&c->head_since),
                        .body_since = c->body ? c->body_since : 0,
                        .body_got = atomic_load(&c->body_got),
                        .partial = c->in.end > c->in.start,
                };
                if (conn_wait_left(w->cfg, &clk, stopping, now) <= 0 &&
                    !atomic_exchange(&c->timed_out, true))
                        (void) shutdown(c->fd, SHUT_RD);
        }
        pthread_mutex_unlock(&w->lock);

        if (atomic_load(&w->paused) && !atomic_load(&w->stopping) &&
            now - atomic_load(&w->paused_at) >= 1000) {
                atomic_store(&w->paused, false);
                listeners_update(w);
        }
        /* While stopping, idle connections are closed within CONN_STOP_IDLE_MS: look more often. */
        int r = sd_event_source_set_time(s, usec + (stopping ? 100000 : 1000000));
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return r;
}

static int worker_start_threads(Worker *w) {
        pthread_attr_t attr;
        int r;

        pthread_attr_init(&attr);
        size_t stack = w->cfg->thread_stacksize ?: 2 * 1024 * 1024;
        r = pthread_attr_setstacksize(&attr, stack);
        if (r != 0)
                log_warning_errno(r, "Invalid thread-stacksize %zu: %m, using the default", stack);

        w->threads = calloc(w->cfg->threads, sizeof(ThreadCtx));
        if (!w->threads)
                return log_oom();
        for (int64_t i = 0; i < w->cfg->threads; i++) {
                ThreadCtx *t = &w->threads[i];
                t->w = w;
                t->core = scoreboard_core(w->scoreboard, w->id, i);
                if (!t->core)
                        return log_error_errno(EINVAL, "No scoreboard core for thread %lld",
                                               (long long) i + 1);
                r = pthread_create(&t->tid, &attr, thread_main, t);
                if (r != 0)
                        return log_error_errno(r, "Failed to start thread %lld of %lld: %m",
                                               (long long) i + 1, (long long) w->cfg->threads);
        }
        pthread_attr_destroy(&attr);

        pthread_mutex_lock(&w->lock);
        while (w->threads_started < w->cfg->threads)
                pthread_cond_wait(&w->started_cond, &w->lock);
        pthread_mutex_unlock(&w->lock);
        if (w->threads_failed > 0)
                return log_error_errno(ENOMEM, "%u thread(s) failed to start", w->threads_failed);
        return 0;
}

static int worker_listener_refs(Worker *w, ListenerSet *ls) {
        w->refs = calloc(ls->n, sizeof(ListenerRef));
        if (!w->refs)
                return log_oom();
        w->n_refs = ls->n;
        for (size_t i = 0; i < ls->n; i++) {
                ListenerRef *lr = &w->refs[i];
                struct sockaddr_storage sa;
                socklen_t len = sizeof(sa);
                lr->tag = TAG_LISTENER;
                lr->l = &ls->items[i];
                if (getsockname(lr->l->fd, (struct sockaddr *) &sa, &len) == 0)
                        conn_format_addr(&sa, lr->server_addr, sizeof(lr->server_addr),
                                    lr->server_port, sizeof(lr->server_port));
                if (!lr->server_addr[0])
                        snprintf(lr->server_addr, sizeof(lr->server_addr), "localhost");
        }
        return 0;
}

/* A worker holds a descriptor per connection, and idle keep-alive connections cost no thread:
 * thousands of them are fine, but systemd and login shells start us with a soft limit of 1024
 * (the hard one is far higher). Out of descriptors, a worker stops accepting, and a new client
 * would wait behind idle ones; so the soft limit goes up to the hard one, as nginx's
 * worker_rlimit_nofile would. */
static void raise_fd_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_debug_errno(errno, "Failed to raise the descriptor limit: %m, ignoring");
        else
                log_debug("descriptor limit raised from %llu to %llu", (unsigned long long) was,
                          (unsigned long long) rl.rlim_cur);
}

int worker_begin(const WorkerArgs *a, char *name, size_t size) {
        snprintf(name, size, "%s worker %d", a->cfg->name, a->id);
        log_set_prefix(name);
        /* The master's death stops us gracefully; we never outlive it. */
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        master_set_title(a->cfg, a->id, name);
        /* limit-as: this worker's address space, as uWSGI's (MB). Past it, allocations fail:
         * Python raises MemoryError in the request that asked. */
        if (a->cfg->limit_as > 0) {
                rlim_t as = (rlim_t) a->cfg->limit_as * 1024 * 1024;
                if (setrlimit(RLIMIT_AS, &(struct rlimit) { as, as }) < 0)
                        log_warning("limit-as: setrlimit(RLIMIT_AS, %lld MB): %m, ignoring",
                                    (long long) a->cfg->limit_as);
        }
        if (!a->cfg->lazy_apps) {
                wsgi_after_fork_child();
                return 0;
        }
        int r = wsgi_init(a->cfg);
        if (r >= 0)
                r = wsgi_load_app(a->cfg);
        if (r < 0 && !a->cfg->need_app && wsgi_initialized()) {
                log_warning("no app loaded (need-app = false): serving 500s");
                return 0;
        }
        if (r < 0) {
                /* The master tells the supervisor why (STATUS=). */
                scoreboard_set_error(a->scoreboard, wsgi_error());
                return EX_CONFIG;
        }
        return 0;
}

int worker_run(const WorkerArgs *a) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Worker w = {
                .cfg = a->cfg,
                .scoreboard = a->scoreboard,
                .slot = a->slot,
                .max_requests = guard_max_requests(a->cfg, a->id),
                .statm_fd = -1,
                .id = a->id,
                .pid = getpid(),
                .timeout_ms = (int) a->cfg->socket_timeout * 1000,
        };
        char name[160];
        int r;

        if (a->cfg->gevent > 0)
                return gevent_worker_run(a); /* greenlets instead of threads (gevent.c) */

        r = worker_begin(a, name, sizeof(name));
        if (r != 0)
                return r;
        raise_fd_limit();
        wsgi_release_main();

        pthread_mutex_init(&w.lock, NULL);
        pthread_mutex_init(&w.accept_lock, NULL);
        pthread_cond_init(&w.started_cond, NULL);
        w.epfd = epoll_create1(EPOLL_CLOEXEC);
        w.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w.epfd < 0 || w.done_fd < 0)
                return log_error_errno(errno, "epoll/eventfd: %m"), 1;
        if (worker_listener_refs(&w, a->listeners) < 0)
                return 1;

        r = sd_event_new(&e);
        if (r < 0)
                return log_error_errno(r, "sd_event_new: %m"), 1;
        int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP };
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                r = sd_event_add_signal(e, NULL, sigs[i], on_stop_signal, &w);
                if (r < 0)
                        return log_error_errno(r, "sd_event_add_signal: %m"), 1;
        }
        r = sd_event_add_io(e, NULL, w.done_fd, EPOLLIN, on_done, &w);
        if (r >= 0)
                r = sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 1000000, 100000,
                                               on_sweep, &w);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGUSR2, on_report_signal, &w);
        if (a->cfg->memory_report)
                w.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        if (r < 0)
                return log_error_errno(r, "sd-event: %m"), 1;

        listeners_update(&w);
        r = worker_start_threads(&w);
        if (r < 0)
                return 1;

        uint32_t id = a->id;
        (void) !write(a->ready_fd, &id, sizeof(id));
        safe_close(a->ready_fd);

        r = sd_event_loop(e);
        log_debug("worker %d done after %llu requests", w.id,
                  (unsigned long long) atomic_load(&w.requests));
        /* Threads are parked in epoll_wait; the process ends here without running Python's
         * finalisation, which would wait for them. */
        return r < 0 ? 1 : 0;
}
