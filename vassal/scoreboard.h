/* SPDX-License-Identifier: MIT */
#pragma once

/* The scoreboard: one slot per worker in a MAP_SHARED anonymous region the master makes before
 * it forks. A worker updates its own slot on every request with a few relaxed atomic adds (the
 * threads of one worker share the slot); the master reads all of them for the stats it sends
 * (X_STATS=, STATUS=) and resets a slot when its worker is replaced. Counters are cumulative
 * over the slot's life, across respawns, so a reader's rates never go negative. They start over
 * with the master's image: a reload re-executes it (same pid) with a fresh scoreboard.
 *
 * Readers see each counter whole but not a consistent snapshot of all of them: fine for
 * statistics, and nothing else reads them. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* Response times: bucket i of a histogram counts the requests that took at most
 * scoreboard_rt_bounds[i] µs (and more than the bound before it); the last one, past 30 s, is
 * +Inf. Log-spaced, 5 per decade (1, 1.5, 2.5, 4, 6) from 0.25 ms to 30 s: a quantile
 * interpolated within its bucket is off by less than the bucket's width: at most 40% of its
 * upper bound (but for the first bucket, from 0, and the last finite one, 15 s to 30 s). */
#define SCOREBOARD_RT_BUCKETS 27
extern const uint32_t scoreboard_rt_bounds[SCOREBOARD_RT_BUCKETS - 1];

typedef struct ScoreboardSlot {
        _Atomic int32_t pid;           /* 0: no process */
        _Atomic uint32_t busy;         /* requests in flight */
        _Atomic uint32_t cheap;        /* parked by cheaper or idle: no process wanted */
        _Atomic uint64_t requests;     /* finished requests */
        _Atomic uint64_t exceptions;   /* requests whose app raised */
        _Atomic uint64_t errors;       /* requests answered >= 500 or whose app raised */
        _Atomic uint64_t tx;           /* response body bytes */
        _Atomic uint64_t running_time; /* µs spent in requests, summed */
        _Atomic uint64_t avg_rt;       /* µs, moving average over the last ~8 requests */
        _Atomic int64_t request_start; /* µs CLOCK_MONOTONIC: the latest request's start */
        _Atomic uint64_t respawn_count;
        _Atomic int64_t last_spawn;    /* seconds since the epoch */
        _Atomic uint64_t requests_at_spawn; /* requests when the current process took the slot */
        _Atomic uint64_t harakiri_count;    /* processes killed for a stuck request (guard.c) */
        _Atomic uint64_t rss, vsz;          /* bytes, sampled by the master every second */
        _Atomic uint64_t rt_hist[SCOREBOARD_RT_BUCKETS]; /* requests per bucket (not cumulative) */
        struct ScoreboardCore *cores;       /* its threads' cores; set before any fork */
        uint32_t n_cores;
        /* Why the process in the slot is going, when it was not asked to (max-requests, from the
         * worker) or was replaced by a guard (harakiri, reload-on-as/rss, from the master);
         * empty otherwise. Written before the exit, read by the master after it (waitpid
         * orders them); cleared at each spawn. */
        char exit_reason[128];
} __attribute__((aligned(64))) ScoreboardSlot;

/* One per worker thread (uWSGI's "core"): what it serves now, for harakiri (the master finds
 * the oldest request in flight), for the stats and for a worker's own SIGUSR2 report. Only its
 * thread writes it: plain stores, no locked instruction, no line shared with another thread.
 * The request's method and URI are copied under a sequence count, so a reader that races with
 * a new request retries or gives up rather than mixing two requests. */
#define SCOREBOARD_METHOD_MAX 16
#define SCOREBOARD_URI_MAX 216
typedef struct ScoreboardCore {
        _Atomic int64_t request_start; /* µs CLOCK_MONOTONIC of the request in flight; 0: idle */
        _Atomic uint64_t requests;     /* finished on this thread */
        _Atomic uint32_t seq;          /* odd while method/uri are being written */
        uint16_t method_len, uri_len;
        char method[SCOREBOARD_METHOD_MAX];
        char uri[SCOREBOARD_URI_MAX];
} __attribute__((aligned(64))) ScoreboardCore;

typedef struct Scoreboard Scoreboard;

/* Maps a scoreboard of n_slots zeroed slots, each with cores_per_slot cores (one per worker
 * thread; 0 for none). Returns 0 or -errno. */
int scoreboard_new(size_t n_slots, size_t cores_per_slot, Scoreboard **ret);
Scoreboard *scoreboard_free(Scoreboard *sb);
size_t scoreboard_size(const Scoreboard *sb);
/* Slot id (1-based, as worker ids), or NULL when out of range. */
ScoreboardSlot *scoreboard_slot(Scoreboard *sb, size_t id);
size_t scoreboard_cores_per_slot(const Scoreboard *sb);
/* Core index (0-based, as thread numbers) of slot id, or NULL when out of range. */
ScoreboardCore *scoreboard_core(Scoreboard *sb, size_t id, size_t index);

/* The master: a process takes the slot (the respawn count is the master's), or left it (its
 * requests in flight are over: its cores go idle). */
void scoreboard_slot_spawned(ScoreboardSlot *s, pid_t pid, uint64_t respawn_count);
void scoreboard_slot_exited(ScoreboardSlot *s);
/* The master parks the slot (cheaper, idle: it shows as "cheap" once its process is gone), or
 * wants a process in it again. */
void scoreboard_slot_set_cheap(ScoreboardSlot *s, bool cheap);

/* The bucket of a response time: most requests are fast, so the walk up from the first bound
 * usually stops after one or two compares (a constant table, no division, no float). */
static inline unsigned scoreboard_rt_bucket(uint64_t rt_usec) {
        unsigned i = 0;
        while (i < SCOREBOARD_RT_BUCKETS - 1 && rt_usec > scoreboard_rt_bounds[i])
                i++;
        return i;
}

/* A worker, around each request: cheap enough for the hot path. */
static inline void scoreboard_request_begin(ScoreboardSlot *s, int64_t now_usec) {
        atomic_fetch_add_explicit(&s->busy, 1, memory_order_relaxed);
        atomic_store_explicit(&s->request_start, now_usec, memory_order_relaxed);
}

/* exception: the app raised (even after its headers went out); status: the response's (an
 * error from 500 up). Either counts the request once in errors. */
static inline void scoreboard_request_end(ScoreboardSlot *s, uint64_t rt_usec, uint64_t tx,
                                          bool exception, int status) {
        atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->tx, tx, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->running_time, rt_usec, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->rt_hist[scoreboard_rt_bucket(rt_usec)], 1,
                                  memory_order_relaxed);
        if (exception)
                atomic_fetch_add_explicit(&s->exceptions, 1, memory_order_relaxed);
        if (exception || status >= 500)
                atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
        /* avg += (rt - avg) / 8 as a load and a store, not a CAS loop: two threads finishing
         * at once may lose one sample, which an average can afford. */
        uint64_t avg = atomic_load_explicit(&s->avg_rt, memory_order_relaxed);
        atomic_store_explicit(&s->avg_rt, avg ? (avg * 7 + rt_usec + 4) / 8 : rt_usec,
                              memory_order_relaxed);
        atomic_fetch_sub_explicit(&s->busy, 1, memory_order_relaxed);
}

/* A worker thread, around each request (after scoreboard_request_begin, before
 * scoreboard_request_end): a handful of plain stores and a short copy. */
static inline void scoreboard_core_begin(ScoreboardCore *c, int64_t now_usec, const char *method,
                                         size_t method_len, const char *uri, size_t uri_len) {
        uint32_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
        atomic_store_explicit(&c->seq, seq + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        method_len = method_len < sizeof(c->method) ? method_len : sizeof(c->method);
        uri_len = uri_len < sizeof(c->uri) ? uri_len : sizeof(c->uri);
        memcpy(c->method, method, method_len);
        memcpy(c->uri, uri, uri_len);
        c->method_len = (uint16_t) method_len;
        c->uri_len = (uint16_t) uri_len;
        atomic_store_explicit(&c->seq, seq + 2, memory_order_release);
        atomic_store_explicit(&c->request_start, now_usec, memory_order_relaxed);
}

static inline void scoreboard_core_end(ScoreboardCore *c) {
        atomic_store_explicit(&c->request_start, 0, memory_order_relaxed);
        /* One writer: a load and a store, not a locked add. */
        atomic_store_explicit(&c->requests,
                              atomic_load_explicit(&c->requests, memory_order_relaxed) + 1,
                              memory_order_relaxed);
}

/* A consistent copy of a core's request in flight, NUL-terminated. */
typedef struct ScoreboardRequest {
        int64_t start; /* µs CLOCK_MONOTONIC */
        char method[SCOREBOARD_METHOD_MAX + 1];
        char uri[SCOREBOARD_URI_MAX + 1];
        size_t method_len, uri_len;
} ScoreboardRequest;

/* Reads core c's request; false when it is idle or kept changing under us (a busy thread
 * starting request after request: nothing is stuck there). */
bool scoreboard_core_request(const ScoreboardCore *c, ScoreboardRequest *ret);

/* The first error a worker reports before it exits EX_CONFIG (lazy-apps import failure), for
 * the master's STATUS=; later ones are dropped. NULL when none. */
void scoreboard_set_error(Scoreboard *sb, const char *message);
const char *scoreboard_error(const Scoreboard *sb);

typedef struct ScoreboardTotals {
        size_t workers; /* slots with a process */
        uint64_t busy, requests, exceptions, errors, tx;
} ScoreboardTotals;

void scoreboard_totals(const Scoreboard *sb, ScoreboardTotals *ret);

/* Response times summed over the slots: cumulative since the scoreboard was made. */
typedef struct ScoreboardHistogram {
        uint64_t counts[SCOREBOARD_RT_BUCKETS]; /* per bucket, not cumulative */
        uint64_t sum;                           /* µs */
} ScoreboardHistogram;

void scoreboard_histogram(const Scoreboard *sb, ScoreboardHistogram *ret);
/* What now counts and before did not: the requests of the window between two readings. A
 * counter that went down (it cannot, short of a bug) counts 0. */
void scoreboard_histogram_delta(const ScoreboardHistogram *now, const ScoreboardHistogram *before,
                                ScoreboardHistogram *ret);
uint64_t scoreboard_histogram_count(const ScoreboardHistogram *h);
/* The q-quantile (0 < q <= 1) in µs, interpolated linearly within its bucket (from 0 for the
 * first; the +Inf bucket answers its lower bound, as Prometheus' histogram_quantile does), or
 * -1 when h counts no request. */
double scoreboard_histogram_quantile(const ScoreboardHistogram *h, double q);

/* What the master measures over each stats interval (master.c): the window is the time since
 * the previous measurement (or since the master started). */
typedef struct ScoreboardWindow {
        bool measured;     /* false until the first interval ended */
        double p99_rt;     /* µs, over the requests completed in the window; < 0: none */
        double cpu;        /* percent of one core used by the master and its workers */
        uint64_t cpu_time; /* µs of CPU of the master and its workers, cumulative */
        /* Where the current window started. */
        uint64_t start_usec; /* CLOCK_MONOTONIC */
        uint64_t start_cpu;
        ScoreboardHistogram start_hist;
        double cpu_max; /* percent: every CPU busy; more is a measurement glitch */
} ScoreboardWindow;

/* A window starting at now_usec, at cpu_time µs of CPU (and the scoreboard as it is). */
void scoreboard_window_init(ScoreboardWindow *w, const Scoreboard *sb, uint64_t now_usec,
                            uint64_t cpu_time, unsigned n_cpus);
/* Ends the window at now_usec and cpu_time (cumulative, as given to init), measures it, and
 * starts the next one. */
void scoreboard_window_advance(ScoreboardWindow *w, const Scoreboard *sb, uint64_t now_usec,
                               uint64_t cpu_time);

/* A listening socket as the stats show it. */
typedef struct ScoreboardSocket {
        const char *name;  /* the address as configured */
        const char *proto; /* "http" or "uwsgi" */
        uint64_t queue, max_queue; /* accept queue now and its size (0 when unknown: unix) */
} ScoreboardSocket;

typedef struct ScoreboardInfo {
        const char *version;
        pid_t pid;             /* the master's */
        uint64_t listen_queue; /* connections waiting in the accept queues */
        uint64_t listen_queue_errors; /* times a queue was found full (guard.c) */
        uid_t uid;
        gid_t gid;
        const char *cwd;
        const char *log; /* the log file, absolute; NULL or "": stderr */
        const ScoreboardSocket *sockets;
        size_t n_sockets;
        /* Each worker's "cores" (threads) with the request in flight: the stats server has
         * them; X_STATS leaves them out to stay one datagram. */
        bool cores;
        /* The master's last measured interval: "p99_rt", "cpu" and "cpu_time" are left out
         * while it is NULL or not measured yet. */
        const ScoreboardWindow *window;
} ScoreboardInfo;

/* The stats object, uWSGI's shape, as one line of JSON shorter than max_size bytes (with its
 * NUL), the workers array cut short (and "workers_truncated": true) when it must be:
 *   {"version","listen_queue","listen_queue_errors","signal_queue","load","pid","uid","gid",
 *    "cwd","locks":[],"sockets":[{"name","proto","queue","max_queue","shared","can_offload"}],
 *    "workers":[{"id","pid","accepting","requests","delta_requests","exceptions","errors",
 *    "harakiri_count","signals","signal_queue","status":"idle"|"busy"|"cheap","rss","vsz",
 *    "running_time","last_spawn","respawn_count","tx","avg_rt","apps":[],
 *    "cores":[{"id","requests","static_requests","routed_requests","offloaded_requests",
 *    "write_errors","read_errors","in_request","vars":["REQUEST_METHOD=GET","REQUEST_URI=/"],
 *    "req_info":{"request_start"}}] (with info->cores; vars and req_info while in a request)
 *    }],"requests","exceptions","errors",
 *    "rt_hist":{"le_us":[250,500,...,30000000],"counts":[...],"sum_us","count"},
 *    "p99_rt","cpu","cpu_time"}
 * Beyond uWSGI's fields (its readers ignore the others):
 *   log       the log file the master writes, absolute (logto, else daemonize, after chdir);
 *             "" when it logs to stderr (the emperor's journal). emperorctl logs reads it.
 *   errors    requests answered with a status >= 500 or whose app raised (even mid-response),
 *             each counted once; cumulative like requests and exceptions.
 *   rt_hist   every request's response time since the master started: counts[i] requests
 *             took at most le_us[i] µs (cumulative, so non-decreasing; as long as le_us);
 *             count is all of them (the +Inf bucket), sum_us their total µs.
 *   p99_rt    µs: the 99th percentile over the requests completed in the master's last stats
 *             interval, interpolated within its bucket; null when none completed in it.
 *   cpu       percent of one core the master and its workers used over that interval.
 *   cpu_time  µs of CPU the master and its workers used, cumulative (a worker's counts until
 *             it exits, the master's since it started).
 * p99_rt, cpu and cpu_time appear once the master measured an interval (info->window).
 * Request data is made valid UTF-8 (a byte that is not becomes U+FFFD) and escaped by cJSON.
 * Returns a malloc'd string, or NULL when out of memory or max_size is too small for even an
 * empty workers array. */
char *scoreboard_stats_json(const Scoreboard *sb, const ScoreboardInfo *info, size_t max_size);
/* The last interval's measures alone ({"p99_rt": .., "cpu": .., "cpu_time": ..}, as in the
 * stats object; {} before the first interval ended): what changes in an idle vassal's report
 * (report.h). NULL when out of memory. */
char *scoreboard_window_json(const ScoreboardWindow *w);

/* "2 workers, 1 busy, 1234 requests" into buf. */
void scoreboard_status(const Scoreboard *sb, char *buf, size_t size);
